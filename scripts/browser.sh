#!/usr/bin/env bash
# Installs what the browser tests drive: Debian's Chromium (Playwright's own browser
# downloads are not used). Safe to run any number of times.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
  echo "==> installing chromium from Debian's packages" >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

# The accessibility checker the browser tests inject (axe-core, pinned in package-lock.json).
if ! command -v npm >/dev/null; then
  echo "==> installing npm from Debian's packages" >&2
  if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
fi
cd "$(dirname "$0")/.."
if [ ! -f node_modules/axe-core/axe.min.js ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --silent --no-audit --no-fund
fi
