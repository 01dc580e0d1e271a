#!/usr/bin/env bash
# Set up, run the main job on the embedded SQLite database under ./var/, then serve the API and pages.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/lims demo "$@"
