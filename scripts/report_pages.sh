#!/usr/bin/env bash
# Render the monthly report of the demo's history (`lims demo --days 60`) as PDF, spreadsheet and page, and convert
# every PDF page to PNG with Ghostscript into artifacts/reports/ to be looked at.
# Usage: bash scripts/report_pages.sh [YYYY-MM] (default: the last complete local month). Set REPORT_DB to an existing
# demo database (a sqlite:/// or postgresql+psycopg:// URL) to skip building the history.
set -euo pipefail
cd "$(dirname "$0")/.."
out=artifacts/reports
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export LIMS_VAR_DIR="$work/var"
if [[ -n "${REPORT_DB:-}" ]]; then
  export LIMS_DATABASE_URL="$REPORT_DB"
else
  export LIMS_DATABASE_URL="sqlite:///$work/demo.db"
  .venv/bin/lims demo --days 60 --no-serve --json >"$out/demo-summary.json"
fi
month=${1:-$(.venv/bin/python -c 'from lims.services.core import clock
y, m = clock.this_month(); y, m = (y, m - 1) if m > 1 else (y - 1, 12); print(f"{y:04d}-{m:02d}")')}
for lang in zh en; do
  .venv/bin/lims report month "$month" --format pdf --lang "$lang" -o "$out/month-$month-$lang.pdf"
  rm -f "$out/month-$month-$lang"-*.png
  gs -q -dNOPAUSE -dBATCH -dSAFER -sDEVICE=png16m -r110 -sOutputFile="$out/month-$month-$lang-%02d.png" \
    "$out/month-$month-$lang.pdf"
done
.venv/bin/lims report month "$month" --format xlsx --lang zh -o "$out/month-$month-zh.xlsx"
.venv/bin/lims report month "$month" --format html --lang zh -o "$out/month-$month-zh.html"
ls -1 "$out"
