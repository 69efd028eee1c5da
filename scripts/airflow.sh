#!/usr/bin/env bash
# Run Apache Airflow 3 with any arguments (`bash scripts/airflow.sh dags list`), or with none just
# make sure it is installed: `bash scripts/airflow.sh --install-only`.
#
# Airflow lives in its own venv, .venv-airflow/ (created here when missing), never in .venv/ or
# .venv-meltano/: its pins conflict with singer-sdk's and Meltano's. Airflow's official
# constraint files are served from outside PyPI, which this project cannot reach, so the install
# uses orchestrate/airflow-constraints.txt instead: a `pip freeze` of a known-good install of the
# pinned version on Python 3.11 (refresh it with `AIRFLOW_REFREEZE=1 bash scripts/airflow.sh
# --install-only` after changing AIRFLOW_SPEC). Idempotent and quick once installed.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="${AIRFLOW_VENV:-$ROOT/.venv-airflow}"
AIRFLOW_SPEC="apache-airflow==3.3.2"
CONSTRAINTS="$ROOT/orchestrate/airflow-constraints.txt"
key="$(
  printf '%s' "$AIRFLOW_SPEC"
  if [ -f "$CONSTRAINTS" ]; then cat "$CONSTRAINTS"; fi
)"
stamp="$VENV/.installed-$(printf '%s' "$key" | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ ! -x "$VENV/bin/airflow" ] || [ -n "${AIRFLOW_REFREEZE:-}" ]; then
  if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
  if [ -f "$CONSTRAINTS" ] && [ -z "${AIRFLOW_REFREEZE:-}" ]; then
    "$VENV/bin/python" -m pip install --quiet "$AIRFLOW_SPEC" -c "$CONSTRAINTS" >&2
  else
    "$VENV/bin/python" -m pip install --quiet "$AIRFLOW_SPEC" >&2
    {
      echo "# pip freeze of $AIRFLOW_SPEC on Python $("$VENV/bin/python" -c 'import sys; print(sys.version.split()[0])')"
      echo "# (written by scripts/airflow.sh: Airflow's own constraint files are not on PyPI)"
      "$VENV/bin/python" -m pip freeze --exclude-editable | grep -v '^-e '
    } >"$CONSTRAINTS"
    key="$(printf '%s' "$AIRFLOW_SPEC"; cat "$CONSTRAINTS")"
    stamp="$VENV/.installed-$(printf '%s' "$key" | sha256sum | cut -c1-16)"
  fi
  rm -f "$VENV"/.installed-*
  touch "$stamp"
fi
if [ "${1:-}" = "--install-only" ]; then
  exit 0
fi
export AIRFLOW_HOME="${AIRFLOW_HOME:-$ROOT/.airflow}"
exec "$VENV/bin/airflow" "$@"
