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
