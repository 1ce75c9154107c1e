# The two commands of the README: `make demo` and `make test`.
.PHONY: demo test setup lint typecheck bench clean-sandbox

demo:
	tools/setup.sh asterisk
	.venv/bin/duncall demo

test:
	tools/setup.sh asterisk
	tools/run-tests.sh

setup:
	tools/setup.sh asterisk

lint:
	.venv/bin/ruff check foundation telephony dialer bot duncall tests bench

typecheck:
	.venv/bin/mypy

clean-sandbox:
	.venv/bin/duncall asterisk down
