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
# The whole suite runs as pytest processes side by side against the real services. Calls
# through the Asterisk sandbox (marker `asterisk`: real-time audio, mostly waiting) run beside
# everything else (mostly CPU), so the waiting overlaps the work. Every test keeps its own Redis
# prefix, database, files and Stasis app, so processes never share state.
#   1. the sandbox group, less the two groups below, beside the rest of the suite;
#   2. when the rest is done, the persona calls (each on its own Stasis app) on the freed core;
#   3. last and alone, the tests that restart or kill Asterisk itself.
persona_calls=(tests/test_bot_calls.py tests/test_bot_calls_state.py)
restarts=(tests/test_ari_reconnect.py tests/test_campaign_faults_sandbox.py)
skip=()
for f in "${persona_calls[@]}" "${restarts[@]}"; do skip+=(--ignore="$f"); done
sandbox_log="$(mktemp -t duncall-sandbox-tests.XXXXXX)"
persona_log="$(mktemp -t duncall-persona-tests.XXXXXX)"
trap 'rm -f "$sandbox_log" "$persona_log"' EXIT
pytest=(.venv/bin/python -m pytest -p no:cacheprovider)
"${pytest[@]}" --durations=25 -m asterisk "${skip[@]}" >"$sandbox_log" 2>&1 &
sandbox_pid=$!
rest=0
"${pytest[@]}" --durations=15 -m "not asterisk" || rest=$?
"${pytest[@]}" --durations=10 -m asterisk "${persona_calls[@]}" >"$persona_log" 2>&1 &
persona_pid=$!
sandbox=0
wait "$sandbox_pid" || sandbox=$?
persona=0
wait "$persona_pid" || persona=$?
printf '\n== tests through the Asterisk sandbox (run alongside the above)\n'
cat "$sandbox_log"
printf '\n== persona calls through the Asterisk sandbox (run after the rest)\n'
cat "$persona_log"
printf '\n== tests that restart Asterisk (run alone, last)\n'
restart=0
"${pytest[@]}" --durations=10 -m asterisk "${restarts[@]}" || restart=$?
[ "$rest" = 0 ] && [ "$sandbox" = 0 ] && [ "$persona" = 0 ] && [ "$restart" = 0 ] && exit 0
printf 'tests failed: the rest exit %s, the sandbox group %s, persona calls %s, Asterisk restarts %s\n' \
  "$rest" "$sandbox" "$persona" "$restart" >&2
exit 1
