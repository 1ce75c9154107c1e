#!/usr/bin/env bash
# Runs lint, formatting, types, the layer contracts and the whole test suite against the real services.
#   tools/run-tests.sh [--fast] [pytest args]   --fast: the unit tier only (no services), a few minutes;
#   with pytest args, one pytest run of just those
set -euo pipefail
cd "$(dirname "$0")/.."
tier=all
if [ "${1:-}" = --fast ]; then tier=fast; shift; fi
dirs=(foundation telephony dialer bot duncall tests bench tools)
.venv/bin/ruff check "${dirs[@]}"
.venv/bin/ruff format --check "${dirs[@]}"
.venv/bin/mypy
.venv/bin/lint-imports
if [ "$tier" = fast ]; then
  exec .venv/bin/python -m pytest -m unit "$@"
fi
if [ $# -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
# The whole suite runs as two pytest processes at once: the calls through the Asterisk sandbox
# (marker `asterisk`: real-time audio, mostly waiting) beside everything else (mostly CPU), so
# the waiting overlaps the work. Every test keeps its own Redis prefix, database and files, so
# the two never share state; the tests that restart Asterisk are all in the sandbox group, in order.
log="$(mktemp -t duncall-sandbox-tests.XXXXXX)"
.venv/bin/python -m pytest -p no:cacheprovider --durations=25 -m asterisk >"$log" 2>&1 &
sandbox_pid=$!
rest=0
.venv/bin/python -m pytest --durations=15 -m "not asterisk" || rest=$?
sandbox=0
wait "$sandbox_pid" || sandbox=$?
printf '\n== tests through the Asterisk sandbox (run alongside the above)\n'
cat "$log"
rm -f "$log"
[ "$rest" = 0 ] && [ "$sandbox" = 0 ] && exit 0
printf 'tests failed: the rest exit %s, the sandbox group exit %s\n' "$rest" "$sandbox" >&2
exit 1
