#!/usr/bin/env bash
# Run Meltano (4.4.x) with any arguments, e.g. `bash scripts/meltano.sh install`,
# `bash scripts/meltano.sh --environment dev run fulfillment`.
#
# Meltano lives in its own venv, .venv-meltano/ (created here when missing), never in .venv/:
# its dependencies must not constrain the project's. The plugins it installs (`meltano install`)
# get venvs of their own under .meltano/. Idempotent and quick once installed. Meltano runs in
# the caller's directory when that holds a meltano.yml (or MELTANO_PROJECT_ROOT is set), else in
# the repository root.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="${MELTANO_VENV:-$ROOT/.venv-meltano}"
MELTANO_SPEC="meltano~=4.4.1"
stamp="$VENV/.installed-$(printf '%s' "$MELTANO_SPEC" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ ! -x "$VENV/bin/meltano" ]; then
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
  "$VENV/bin/python" -m pip install --quiet "$MELTANO_SPEC" >&2
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi
if [ -z "${MELTANO_PROJECT_ROOT:-}" ] && [ ! -f meltano.yml ]; then
  cd "$ROOT"
fi
export MELTANO_SEND_ANONYMOUS_USAGE_STATS="${MELTANO_SEND_ANONYMOUS_USAGE_STATS:-false}"
exec "$VENV/bin/meltano" "$@"
