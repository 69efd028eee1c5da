#!/usr/bin/env bash
# Create .venv (if missing) and install the project with its dev extras into it. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Reinstall when the dependencies or the set of packages change (an editable install maps the
# packages that exist when it runs).
stamp=.venv/.installed-$( (cat pyproject.toml; ls -d ./*/__init__.py) | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  rm -f .venv/.installed-*
  touch "$stamp"
fi
