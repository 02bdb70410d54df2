#!/usr/bin/env bash
# Creates .venv with logloom and its test dependencies. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'

# The web UI's browser tests (tests/integration/test_ui_browser.py) drive Debian's headless
# Chromium; CI (a fresh Debian machine, as root) gets it here. Elsewhere, install it yourself:
# the tests skip without it, except under CI=true, where they fail.
if [ ! -x /usr/bin/chromedriver ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q chromium chromium-driver || { apt-get update -q && apt-get install -y -q chromium chromium-driver; }
fi
