#!/usr/bin/env bash
# Create .venv beside this checkout and install govspeech into it.
#   scripts/install.sh          the service and CLI
#   scripts/install.sh --dev    plus the test tools (pytest, ruff, Playwright + Debian's Chromium)
# torch is installed first and pinned to the CPU build, so pip never pulls a multi-GB CUDA build.
# The project is installed as a plain wheel; the tests import this checkout itself (pytest's
# rootdir), so re-run this script only to update the govspeech command after changing code.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || { echo "govspeech needs Python 3.11 or newer ($PY is $("$PY" -V 2>&1))" >&2; exit 1; }
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
"${PIP[@]}" --upgrade pip
"${PIP[@]}" "torch==2.13.0"
if [ "${1:-}" = "--dev" ]; then
  "${PIP[@]}" ".[dev]"
  # tests/ui drive Debian's Chromium through Playwright (never `playwright install`: no downloads);
  # a CJK font makes the Chinese page readable in the screenshots the tests save.
  if [ ! -x /usr/bin/chromium ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      echo "installing Debian's chromium for the browser tests"
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
          --no-install-recommends chromium fonts-wqy-microhei; } >/tmp/govspeech-apt.log 2>&1 \
        || echo "note: could not install chromium (see /tmp/govspeech-apt.log); the browser tests will be skipped" >&2
    else
      echo "note: /usr/bin/chromium is missing; the browser tests will be skipped (as root: apt-get install chromium)" >&2
    fi
  fi
else
  "${PIP[@]}" .
fi
echo "govspeech installed in $(pwd)/.venv"
