#!/usr/bin/env bash
# Run Meltano 4.4.x with any arguments, e.g. `bash scripts/meltano.sh install`, or
# `bash scripts/meltano.sh --environment dev run fulfillment`. It comes with its `postgres` extra,
# for a system database (state) on PostgreSQL: MELTANO_DATABASE_URI=postgresql+psycopg://...
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
MELTANO_SPEC="meltano[postgres]~=4.4.1"
# The stamp changes with the spec and with this script (which holds the hotfix below).
stamp="$VENV/.installed-$( (printf '%s' "$MELTANO_SPEC"; cat "$0") | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ ! -x "$VENV/bin/meltano" ]; then
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
  "$VENV/bin/python" -m pip install --quiet "$MELTANO_SPEC" >&2
  rm -f "$VENV"/.installed-*
fi
if [ ! -f "$stamp" ]; then
  # Hotfix for Meltano 4.x (4.3.0 to 4.4.1 at least): `meltano config test <loader>` calls
  # process.terminate() on the loader after it has exited and been reaped, and asyncio raises
  # ProcessLookupError, so the test of every loader fails even when the loader passed. Terminating
  # a process that has already exited is made a no-op, in this venv only.
  site="$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  cat > "$site/_meltano_hotfix.py" <<'PY'
"""Terminating an asyncio subprocess that has already exited is a no-op (see scripts/meltano.sh)."""

import asyncio.subprocess

_terminate = asyncio.subprocess.Process.terminate


def _terminate_if_running(self):
    if self.returncode is None:
        _terminate(self)


asyncio.subprocess.Process.terminate = _terminate_if_running
PY
  echo "import _meltano_hotfix" > "$site/_meltano_hotfix.pth"
  touch "$stamp"
fi
if [ -z "${MELTANO_PROJECT_ROOT:-}" ] && [ ! -f meltano.yml ]; then
  cd "$ROOT"
fi
export MELTANO_SEND_ANONYMOUS_USAGE_STATS="${MELTANO_SEND_ANONYMOUS_USAGE_STATS:-false}"
exec "$VENV/bin/meltano" "$@"
