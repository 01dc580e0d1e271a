"""Concurrent registrations never fail for doing the right thing, and a label carries the district's local date."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from lims.db import make_engine
from lims.models import Sample, User
from lims.models.samples import SampleCreate
from lims.services.access import auth
from lims.services.samples import sampling
from lims.services.samples.label_ids import label_id_problem
from tests.security.races import audit_intact, race


def _tester(engine: Engine, name: str = "tester") -> auth.Actor:
    with Session(engine) as session:
        return auth.actor_for(session.exec(select(User).where(User.username == name)).one())


def _registration(actor: auth.Actor, n: int) -> SampleCreate:
    return SampleCreate(point_code="P05", product_name=f"小白菜 {n}", category_code="VEG_LEAF")


def _labels(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return list(session.exec(select(Sample.label_id).order_by(col(Sample.id))).all())


def test_80_concurrent_registrations_all_get_distinct_valid_labels(engine: Engine) -> None:
    actors = [_tester(engine, "tester"), _tester(engine, "tester2")]
    calls = [
        (lambda session, i=i: sampling.register(session, actors[i % 2], _registration(actors[i % 2], i)))
        for i in range(80)
    ]
    outcomes = race(engine, calls)
    assert outcomes.count("ok") == 80, [o for o in outcomes if o != "ok"][:5]
    labels = _labels(engine)
    assert len(labels) == 80 and len(set(labels)) == 80
    assert all(label_id_problem(label) is None for label in labels)
    assert sorted(int(label[8:11]) for label in labels) == list(range(1, 81))
    audit_intact(engine)


def _register_in_process(url: str, count: int, start: multiprocessing.synchronize.Barrier) -> None:
    """A second program on the same database file: `count` registrations in threads, released together."""
    engine = make_engine(url)
    actor = _tester(engine)
    start.wait(timeout=60)
    outcomes = race(engine, [lambda s, i=i: sampling.register(s, actor, _registration(actor, i)) for i in range(count)])
    engine.dispose()
    failed = [o for o in outcomes if o != "ok"]
    if failed:
        raise SystemExit(f"{len(failed)} of {count} registrations failed: {failed[:3]}")


@pytest.mark.slow  # two fresh interpreters import the application
def test_registrations_from_two_processes_on_one_sqlite_file(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("two programs sharing one database file is the SQLite deployment (a vehicle node)")
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(2)
    url = str(engine.url)
    workers = [context.Process(target=_register_in_process, args=(url, 40, start)) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=100)
    assert [w.exitcode for w in workers] == [0, 0]
    labels = _labels(engine)
    assert len(labels) == 80 and len(set(labels)) == 80
    assert all(label_id_problem(label) is None for label in labels)
    assert Path(engine.url.database or "").exists()
    audit_intact(engine)


@time_machine.travel(datetime(2026, 12, 1, 17, 0, tzinfo=UTC), tick=False)
def test_label_date_is_the_districts_local_date(engine: Engine) -> None:
    actor = _tester(engine)
    with Session(engine, expire_on_commit=False) as session:
        # 01:00 on 2 December in Beijing is still 1 December in UTC.
        sample = sampling.register(session, actor, _registration(actor, 1))
        late = sampling.register(
            session,
            actor,
            SampleCreate(
                point_code="P05",
                product_name="菠菜",
                category_code="VEG_LEAF",
                collected_at=datetime(2026, 12, 1, 15, 59, tzinfo=UTC),  # 23:59 on 1 December in Beijing
            ),
        )
        session.commit()
    assert sample.label_id[2:8] == "261202"
    assert late.label_id[2:8] == "261201"
    assert int(sample.label_id[8:11]) == 1 and int(late.label_id[8:11]) == 1
