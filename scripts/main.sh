#!/usr/bin/env bash
# The main job on the embedded default: a local Big Cartel sandbox shop, synced twice.
# Options go to scripts/demo.py: --port N (default 8765; 0 picks a free one), --orders, --products.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/python scripts/demo.py "$@"
