# The two commands of the README: `make demo` and `make test`.
.PHONY: demo test check setup lint typecheck bench clean-sandbox

demo:
	tools/setup.sh asterisk
	.venv/bin/duncall demo

test:
	tools/setup.sh asterisk
	tools/run-tests.sh

# The fast tier for day-to-day work: lint, format, types, layer contracts, unit tests (no services).
check:
	tools/setup.sh base
	tools/run-tests.sh --fast

setup:
	tools/setup.sh asterisk

lint:
	.venv/bin/ruff check foundation telephony dialer bot duncall tests bench tools
	.venv/bin/ruff format --check foundation telephony dialer bot duncall tests bench tools
	.venv/bin/lint-imports

typecheck:
	.venv/bin/mypy

clean-sandbox:
	.venv/bin/duncall asterisk down
