"""The monthly report against the bare SQL aggregate queries it needs, measured in the same run.

Seeds districts with a year of history each (`bench/history.py`, default 300,000 results per district) on the
database given by `--db` (a PostgreSQL URL; it is emptied first), then times, for the last complete month:
- one district's report (`lims.services.reports.month.monthly_report`), median of `--repeat` runs;
- the same SQL statements the report sent, replayed on a bare DB-API cursor (no ORM, no Python figures);
- the province's report over every district, and its bare statements.
Prints the times and the ratios (goal: the report ≤ 3 × its bare queries, a district's month < 10 s).

    .venv/bin/python bench/report.py --db postgresql+psycopg://postgres@127.0.0.1:5432/bench_report
"""

from __future__ import annotations

import argparse
import statistics
import string
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy
from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parent))
from history import seed_district
from lims.db import make_engine
from lims.services.core import schema
from lims.services.core.audit import SYSTEM
from lims.services.reference import reference_data
from lims.services.reports import month

LAST_DAY = date(2026, 11, 30)
MONTH = "2026-11"


def _fresh(url: str) -> Engine:
    """An empty database at `url` (created when missing), migrated, with the shipped reference data."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        admin = sqlalchemy.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        admin.dispose()
    engine = make_engine(url)
    if parsed.get_backend_name() != "postgresql":
        MetaData().drop_all(engine)
    schema.upgrade(engine)
    with Session(engine) as session:
        reference_data.load_reference(session, SYSTEM)
        session.commit()
    return engine


def _median(runs: int, work: Callable[[], Any]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _report_and_statements(engine: Engine, **scope: Any) -> tuple[Callable[[], Any], list[tuple[str, Any]]]:
    """A function making the report, and the statements (with their parameters) one run of it sends."""
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        sent.append((statement, parameters))

    def make() -> Any:
        with Session(engine) as session:
            return month.monthly_report(session, SYSTEM, MONTH, **scope)

    event.listen(engine, "before_cursor_execute", record)
    try:
        make()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return make, sent


def _bare(engine: Engine, statements: list[tuple[str, Any]]) -> Callable[[], None]:
    """The same statements on a raw DB-API connection, rows fetched and dropped."""

    def run() -> None:
        raw = engine.raw_connection()
        try:
            cursor = raw.cursor()
            for statement, parameters in statements:
                cursor.execute(statement, parameters)
                cursor.fetchall()
            cursor.close()
        finally:
            raw.close()

    return run


def main() -> None:
    """Seed, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="database URL (emptied first), e.g. postgresql+psycopg://…/bench")
    parser.add_argument("--districts", type=int, default=12)
    parser.add_argument("--results", type=int, default=300_000, help="results per district over the year")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    engine = _fresh(args.db)
    started = time.perf_counter()
    codes = [a + b for a in string.ascii_uppercase for b in string.ascii_uppercase if a + b != "XQ"][: args.districts]
    seeded = []
    for index, code in enumerate(codes):
        with engine.begin() as conn:
            seeded.append(seed_district(conn, code, args.results, LAST_DAY, seed=index + 1))
    schema.analyze(engine)
    total = sum(s.results for s in seeded)
    print(f"seeded {len(seeded)} districts, {total:,} results ({seeded[0].results:,} in {codes[0]}) "
          f"in {time.perf_counter() - started:.1f} s")  # fmt: skip
    for label, scope in ((f"district {codes[0]}", {"district_code": codes[0]}), ("province", {"province": True})):
        make, statements = _report_and_statements(engine, **scope)
        report_s = _median(args.repeat, make)
        bare_s = _median(args.repeat, _bare(engine, statements))
        print(f"{label:>14}: report {report_s:.3f} s, its {len(statements)} bare queries {bare_s:.3f} s, "
              f"ratio {report_s / bare_s:.2f} (goal ≤ 3; a district's month < 10 s)")  # fmt: skip
    engine.dispose()


if __name__ == "__main__":
    main()
