#!/usr/bin/env bash
# Installs what the `browser` tests need: Debian's chromium (at /usr/bin/chromium) and the playwright
# Python package (no playwright browser download: the tests launch /usr/bin/chromium).
# Idempotent; does nothing that is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
"$PY" -c "import playwright" 2>/dev/null || "$PY" -m pip install -q "playwright>=1.40"
echo "browser tests ready: $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
