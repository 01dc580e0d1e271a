"""Query plans and times of the reads that must stay fast at a million results, on a seeded province.

For each read (the station's shared-results list and its filters, a deep page by key against the same page by
offset, the station's hotspots, the reviewer's queue, a district's monthly report) it runs the service once to
warm up, then `--repeat` times, records the SQL statements it sent, and prints the median time and the plan of its
slowest statements: `EXPLAIN (ANALYZE, BUFFERS)` on PostgreSQL, `EXPLAIN QUERY PLAN` on SQLite.

    .venv/bin/lims seed --districts 12 --days 365 --samples-per-day 128 --db URL   # once
    LIMS_VAR_DIR=var/bench .venv/bin/python bench/explain.py --db URL [--plans 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import event, func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from lims.db import make_engine
from lims.models import District, TestResult, User
from lims.models.common import ResultStatus
from lims.services.access import auth
from lims.services.core import clock
from lims.services.public import hotspots
from lims.services.reports import month
from lims.services.results import records, reviewing


class Recorder:
    """The statements an engine sends while on, with their parameters and time."""

    def __init__(self, engine: Engine) -> None:
        self.on = False
        self.sent: list[tuple[float, str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        conn.info["started"] = time.perf_counter()

    def _after(self, conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if self.on:
            self.sent.append((time.perf_counter() - conn.info["started"], statement, parameters))


def _plan(engine: Engine, statement: str, parameters: Any) -> str:
    prefix = "EXPLAIN (ANALYZE, BUFFERS) " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(prefix + statement, parameters).all()
    if engine.dialect.name == "postgresql":
        return "\n".join(f"    {r[0]}" for r in rows)
    return "\n".join(f"    {'  ' * int(r[1] > 0)}{r[-1]}" for r in rows)


def measure(engine: Engine, recorder: Recorder, name: str, read: Callable[[Session], Any], repeat: int,
            plans: int) -> float:  # fmt: skip
    """Median seconds of `read`, with the plans of its slowest statements printed."""
    with Session(engine) as session:
        read(session)  # warm: caches of reference data and the database's pages
    times = []
    for _ in range(repeat):
        recorder.sent.clear()
        recorder.on = True
        with Session(engine) as session:
            started = time.perf_counter()
            read(session)
            times.append(time.perf_counter() - started)
        recorder.on = False
    median = statistics.median(times)
    on_results = [sent for sent in recorder.sent if "test_result" in sent[1]] or recorder.sent
    slowest = sorted(on_results, key=lambda s: s[0], reverse=True)[:plans]
    print(f"\n== {name}: {median * 1000:.1f} ms ({len(recorder.sent)} statements)")
    for seconds, statement, parameters in slowest:
        short = " ".join(statement.split())
        print(f"  -- {seconds * 1000:.1f} ms: {short[:300]}{'…' if len(short) > 300 else ''}")
        print(_plan(engine, statement, parameters))
    return median


def main() -> None:
    """Print the plans and times."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="the seeded database (sqlite:/// or postgresql+psycopg://)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--plans", type=int, default=1, help="plans of the slowest statements per read")
    args = parser.parse_args()
    engine = make_engine(args.db)
    recorder = Recorder(engine)
    with Session(engine) as session:
        station = auth.actor_for(session.exec(select(User).where(User.username == "station")).one())
        reviewer = auth.actor_for(session.exec(select(User).where(User.username == "reviewer")).one())
        total = session.exec(select(func.count()).select_from(TestResult)).one()
        district = session.exec(select(District).where(District.id == reviewer.district_id)).one()
        depth = min(20_000, int(total) // 2)
        deep = session.exec(
            select(TestResult.id).where(TestResult.status == ResultStatus.PUBLISHED).order_by(col(TestResult.id).desc())
            .offset(depth).limit(1)
        ).one()  # fmt: skip
    today = clock.local_date(clock.now(), district)
    last_month = f"{(today.replace(day=1) - timedelta(days=1)):%Y-%m}"
    week = (today - timedelta(days=7)).isoformat()
    print(f"{engine.dialect.name}: {total} results; reader station={station.name}, reviewer={reviewer.name}")
    reads: dict[str, Callable[[Session], Any]] = {
        "station list, newest 50": lambda s: records.search(s, station, limit=50),
        "station list, positives": lambda s: records.search(s, station, judgement="positive", limit=50),
        "station list, one item": lambda s: records.search(s, station, item_code="OPC", limit=50),
        "station list, own point": lambda s: records.search(s, station, point_code="P05", limit=50),
        "station list, last week": lambda s: records.search(s, station, date_from=week, limit=50),
        f"station list, {depth} deep by key": lambda s: records.search(s, station, before_id=int(deep), limit=50),
        f"station list, {depth} deep by offset": lambda s: records.search(s, station, offset=depth, limit=50),
        "station hotspots, last week": lambda s: hotspots.positive_rates(s, station, date_from=week),
        "review queue, published, first page": lambda s: reviewing.queue(
            s, reviewer, ResultStatus.PUBLISHED, reviewing.QueueFilter()
        ),
        f"monthly report {last_month}, one district": lambda s: month.monthly_report(s, reviewer, last_month),
    }
    times = {name: measure(engine, recorder, name, read, args.repeat, args.plans) for name, read in reads.items()}
    print("\n== summary (median ms)")
    for name, seconds in times.items():
        print(f"  {seconds * 1000:9.1f}  {name}")
    by_key, by_offset = times[f"station list, {depth} deep by key"], times[f"station list, {depth} deep by offset"]
    print(f"  a page {depth} deep by key takes {by_key / by_offset:.3f}x the time of the same page by offset")


if __name__ == "__main__":
    main()
