#!/usr/bin/env bash
# The whole test suite: lint, then every test, against the local emulators.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
# The layers declared in pyproject.toml ([tool.importlinter]): one-way imports.
.venv/bin/lint-imports
# The product packages, type-checked strictly ([tool.mypy] in pyproject.toml).
.venv/bin/mypy
# Meltano and Airflow live in venvs of their own (their dependencies conflict with the
# project's); installed here so an install failure shows as its own step.
bash scripts/meltano.sh install
bash scripts/airflow.sh --install-only
.venv/bin/pytest "$@"
