#!/usr/bin/env bash
# Set up a fresh machine: system libraries (zbar, Chromium for browser tests), a virtual environment
# in .venv, and the project with its development tools. Safe to run again; it only adds what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
[ -e /usr/lib/x86_64-linux-gnu/libzbar.so.0 ] || ldconfig -p 2>/dev/null | grep -q 'libzbar\.so\.0' || need_apt+=(libzbar0)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v gs >/dev/null 2>&1 || need_apt+=(ghostscript)                       # reads PDF labels back in tests
[ -e /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf ] || need_apt+=(fonts-droid-fallback)  # Chinese on labels
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need_apt+=(fonts-dejavu-core)              # digits on labels
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)              # what several workers share (tests)
ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1\.0\.so\.0' || need_apt+=(libpango-1.0-0 libpangoft2-1.0-0)  # WeasyPrint: the case notice PDF
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${need_apt[*]} with apt-get"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -e "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
