#!/usr/bin/env bash
# Bundle JsSIP (pinned in package-lock.json) into the console's static files, once.
# The npm package ships CommonJS only (no browser build): esbuild makes one IIFE that sets
# window.JsSIP. The page loads it from the console itself; nothing is fetched at run time.
# Skipped when the bundle exists and matches the hashes recorded beside it.
set -euo pipefail
cd "$(dirname "$0")"
out=../../duncall/console/static/vendor
bundle="$out/jssip.js"
stamp="$out/jssip.sha256"
inputs() { sha256sum package.json package-lock.json entry.js build.sh; }
if [ -f "$bundle" ] && [ -f "$stamp" ] \
  && [ "$(head -n 4 "$stamp")" = "$(inputs)" ] \
  && [ "$(tail -n 1 "$stamp")" = "$(cd "$out" && sha256sum jssip.js)" ]; then
  exit 0
fi
command -v npm >/dev/null || { echo "build.sh: npm is missing (apt-get install npm)" >&2; exit 1; }
echo "== bundling JsSIP for the desk page"
# --ignore-scripts: esbuild's postinstall only checks its binary, which @esbuild/linux-x64 ships.
npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
mkdir -p "$out"
npx --no-install esbuild entry.js --bundle --minify --format=iife --platform=browser \
  --legal-comments=none --log-level=warning --outfile="$bundle.tmp"
mv "$bundle.tmp" "$bundle"
{
  for pkg in jssip debug ms events sdp-transform; do
    printf '== %s %s ==\n' "$pkg" "$(node -p "require('./node_modules/$pkg/package.json').version")"
    cat node_modules/$pkg/LICENSE* 2>/dev/null || node -p "require('./node_modules/$pkg/package.json').license"
    printf '\n'
  done
} > "$out/jssip.LICENSES.txt"
{ inputs; (cd "$out" && sha256sum jssip.js); } > "$stamp"
