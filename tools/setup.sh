#!/usr/bin/env bash
# Idempotent set-up for a Debian machine, run as root: apt packages, the venv,
# Redis, the Asterisk sandbox. Each step checks before it works, so a second
# run takes seconds.
#   tools/setup.sh [base|asterisk]   base: packages + venv + redis; asterisk: also the sandbox
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-asterisk}"

say() { printf '== %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (apt packages and the Asterisk chroot need it)"

# --- Debian packages ---------------------------------------------------------
APT_PKGS=(debootstrap espeak-ng libespeak-ng1 sox redis-server redis-tools make docker-compose chromium
  kannel   # kannel: the SMS gateway (bearerbox + smsbox) the SMS channel speaks to, and its tests run
  fonts-wqy-zenhei  # the CJK TrueType font the Chinese 催收函 PDF embeds (dialer/messaging/letters_zh.py)
  sip-tester  # sipp: the carrier and the debtors on the far side of the sandbox's SIP trunk (tests/sip/)
  irstlm  # tlm: estimates PocketSphinx's domain language model (bot/asr/domain_lm.py)
  sphinxtrain sphinxbase-utils pocketsphinx)  # bw, mllr_solve, sphinx_fe, pocketsphinx_mdef_convert: the telephone adaptation (duncall/asr_adapt.py)
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq || die "apt-get update failed: check the package mirror is reachable"
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
fi

# --- Python venv -------------------------------------------------------------
PY="${PYTHON:-python3}"
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || die "Python 3.11+ is needed ($PY is older)"
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$PY" -m venv .venv
fi
stamp=".venv/.duncall-deps-$(cat pyproject.toml tools/setup.sh | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  say "installing Python packages"
  .venv/bin/pip install -q --upgrade pip
  # torch: the CPU build, pinned, before anything that depends on it (an unpinned
  # torch pulls a multi-GB CUDA build). Users elsewhere: pip install torch
  # --index-url https://download.pytorch.org/whl/cpu
  .venv/bin/pip install -q "torch==2.13.0"
  .venv/bin/pip install -q -e ".[dev]"
  rm -f .venv/.duncall-deps-*
  touch "$stamp"
fi

# --- the desk page's softphone (JsSIP, bundled once from the pinned npm lock file) ---
if ! command -v npm >/dev/null; then
  say "apt-get install npm"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null \
    || die "apt-get install nodejs npm failed"
fi
tools/jssip/build.sh || die "bundling JsSIP failed: check the npm registry is reachable (tools/jssip/build.sh)"

# --- Redis -------------------------------------------------------------------
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  say "starting redis-server on 127.0.0.1:6379"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/duncall.log
  for _ in $(seq 50); do redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -h 127.0.0.1 ping >/dev/null 2>&1 || die "redis-server did not start: see /var/log/redis/duncall.log"
fi

# --- intent models ---------------------------------------------------------------
# Trained from data/nlu/ into ~/.cache/duncall/nlu/<lang>-<data hash>; only when the
# data or the recipe changed, so a second run skips it.
.venv/bin/duncall nlu train --if-missing

# --- the domain language model -------------------------------------------------
# Estimated from the NLU training text and the grammars into ~/.cache/duncall/sphinx/
# (keyed by a hash of that text; under a second), only when the text changed.
.venv/bin/duncall asr lm --if-missing

# --- PocketSphinx's telephone adaptation ------------------------------------------
# An MLLR transform of the en-us model for G.711 audio, estimated on espeak-ng speech
# through a simulated phone line into ~/.cache/duncall/sphinx/mllr-<inputs hash>
# (~1 min on 2 cores), only when its inputs changed; calls on an 8 kHz (G.711) leg use it.
.venv/bin/duncall models adapt

# --- Asterisk sandbox ----------------------------------------------------------
if [ "$what" = asterisk ]; then
  .venv/bin/duncall asterisk up
fi
