#!/usr/bin/env bash
# Runs lint, formatting, types, the layer contracts and the whole test suite against the real services.
#   tools/run-tests.sh [--fast] [pytest args]   --fast: the unit tier only (no services), a few minutes
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
exec .venv/bin/python -m pytest "$@"
