#!/usr/bin/env bash
# Runs lint, the type checker and the whole test suite against the real services.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check foundation telephony dialer bot duncall tests bench
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
