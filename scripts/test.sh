#!/usr/bin/env bash
# Set up, then run every check: lint, format, types, import contracts, and the test suite
# (SQLite always; PostgreSQL too when LIMS_TEST_DATABASE_URL is set).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

if [ -n "${LIMS_TEST_DATABASE_URL:-}" ] && command -v pg_isready >/dev/null 2>&1; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432; then
    echo "test: starting PostgreSQL"
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
    for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  fi
fi

export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff";          ruff check src tests bench
echo "== ruff format";   ruff format --check src tests bench
echo "== mypy";          mypy
echo "== import-linter"; lint-imports
echo "== pytest"
mkdir -p artifacts
# Many tests wait on serial link timers and subprocesses, so three workers pay off even on two cores.
pytest -n "${LIMS_TEST_WORKERS:-3}" "$@"
