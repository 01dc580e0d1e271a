"""The province seed's rate against bare executemany inserts of the same number of rows, measured in the same run.

Seeds `--districts` × `--days` (default 2 × 30) into a fresh database (`--db`: a PostgreSQL URL, emptied first; by
default a new SQLite file under var/bench/), counts the rows and audit events it wrote, then inserts as many rows of
the same average width into a bare table with the driver's executemany (no hashing, no JSON, no ORM), on the same
backend. Prints both rates and the ratio, and what the rate means for 1,000,000 results.

    .venv/bin/python bench/seed.py [--db postgresql+psycopg://postgres@127.0.0.1:5432/bench_seed]
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import MetaData, func, text
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from lims.db import make_engine
from lims.services.core import schema
from lims.services.demo import province


def _fresh(url: str | None) -> Engine:
    if url is None:
        folder = Path("var/bench")
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"seed-{datetime.now(UTC):%Y%m%d%H%M%S}.db"
        return make_engine(f"sqlite:///{path}")
    engine = make_engine(url)
    meta = MetaData()
    meta.reflect(engine)
    meta.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    return engine


def _rows(engine: Engine) -> tuple[int, int]:
    """Rows in every table, and their total width in bytes of text (for the bare rows' width)."""
    count = 0
    with engine.connect() as connection:
        for table in SQLModel.metadata.sorted_tables:
            count += int(connection.execute(func.count().select().select_from(table)).scalar_one())
        events = int(connection.execute(text("SELECT count(*) FROM audit_event")).scalar_one())
        width = int(
            connection.execute(
                text(
                    "SELECT sum(length(CAST(after AS TEXT)) + coalesce(length(CAST(before AS TEXT)), 0))"
                    " FROM audit_event"
                )
            ).scalar_one()
            or 0
        )
    return count, width // max(events, 1)


def bare_inserts(engine: Engine, count: int, width: int) -> float:
    """Seconds to insert `count` rows of about `width` bytes with plain executemany, one transaction."""
    payload = "x" * max(width, 1)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS bare_rows"))
        connection.execute(text("CREATE TABLE bare_rows (id INTEGER PRIMARY KEY, body TEXT, at TIMESTAMP)"))
    started = time.perf_counter()
    with engine.begin() as connection:
        raw = connection.connection.driver_connection
        mark = "%s" if engine.dialect.name == "postgresql" else "?"
        statement = f"INSERT INTO bare_rows (id, body, at) VALUES ({mark}, {mark}, {mark})"
        now = datetime.now(UTC).replace(tzinfo=None)
        cursor = raw.cursor()  # type: ignore[union-attr]
        for start in range(0, count, 5000):
            cursor.executemany(statement, [(n, payload, now) for n in range(start, min(start + 5000, count))])
    seconds = time.perf_counter() - started
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE bare_rows"))
    return seconds


def main() -> None:
    """Seed, count, insert the same count bare, print the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None, help="PostgreSQL URL (emptied first); default a new SQLite file")
    parser.add_argument("--districts", type=int, default=2)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--samples-per-day", type=int, default=128)
    args = parser.parse_args()
    engine = _fresh(args.db)
    schema.upgrade(engine)
    started = time.perf_counter()
    summary = province.seed_province(
        engine, districts=args.districts, days=args.days, samples_per_day=args.samples_per_day
    )
    seeded = time.perf_counter() - started
    history = summary.seconds["history"]
    rows, width = _rows(engine)
    bare = bare_inserts(engine, rows, width)
    print(f"{engine.dialect.name}: {summary.results} results, {rows} rows in all ({summary.events} audit events)")
    print(f"seed: {seeded:.1f} s in all ({summary.seconds}); the history {rows / history:,.0f} rows/s")
    print(f"bare executemany of {rows} rows of {width} bytes: {bare:.1f} s, {rows / bare:,.0f} rows/s")
    print(f"ratio seed history / bare inserts: {bare / history:.2f}x")
    per_result = history / max(summary.results, 1)
    print(f"at this rate 1,000,000 results take {per_result * 1_000_000 / 60:.1f} min of history (+ fixed setup)")


if __name__ == "__main__":
    main()
