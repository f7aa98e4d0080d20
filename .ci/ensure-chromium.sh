#!/usr/bin/env bash
# Installs Debian's chromium for the dashboard's browser tests when /usr/bin/chromium is missing.
# Skipped when it is already there. Never downloads a browser build of its own (no `playwright install`).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
  exit 0
fi
if [ "$(id -u)" != "0" ] && ! command -v sudo >/dev/null 2>&1; then
  echo "ensure-chromium: /usr/bin/chromium missing and not root: dashboard browser tests will be skipped" >&2
  exit 0
fi
SUDO=""
[ "$(id -u)" != "0" ] && SUDO="sudo -n"
echo "ensure-chromium: installing Debian chromium (for tests/dashboard)" >&2
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core; }; then
  echo "ensure-chromium: could not install chromium: dashboard browser tests will be skipped" >&2
fi
exit 0
