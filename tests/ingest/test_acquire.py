"""`acquire` against a simulated pesticide analyzer: one transaction per instrument record, each reading
stored exactly once across a crash between commit and acknowledgement, `count` honoured inside a record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from instrument_drivers.reading import Reading
from instrument_drivers.registry import create_driver
from lims.models import TestResult
from lims.services.core.audit import verify
from lims.services.core.audit_tables import AUDITED_MODELS
from lims.services.results import ingest
from simulators.faults import FaultPlan
from simulators.registry import create_simulator, open_endpoint
from simulators.scenario import load
from tests.core.helpers import register
from tests.instruments.harness import SimThread

RECORD_SIZES = (8, 8, 3)


class Crash(Exception):
    """Stands for the acquiring process dying."""


@contextmanager
def analyzer(client: TestClient, headers: dict[str, str], tmp_path: Path) -> Iterator[SimThread]:
    """A pesticide analyzer holding one record per entry of RECORD_SIZES, for freshly registered samples."""
    entries = [
        {"sample": register(client, headers)["label_id"], "item": "OPC", "group": group}
        for group, size in enumerate(RECORD_SIZES)
        for _ in range(size)
    ]
    scenario_file = tmp_path / "scenario.json"
    scenario_file.write_text(json.dumps({"serial": "PR-8CH-0001", "first_sequence": 700, "readings": entries}))
    scenario = load("pesticide", scenario_file=scenario_file)
    endpoint, _framing, url = open_endpoint("pesticide", "socket://127.0.0.1:0")
    sim = create_simulator("pesticide", scenario, endpoint, FaultPlan.parse("", seed=0))
    handle = SimThread(sim, url, scenario)
    try:
        assert [len(r.channels) for r in scenario.records()] == list(RECORD_SIZES)
        yield handle
    finally:
        handle.close()


@contextmanager
def counting_commits(engine: Engine) -> Iterator[list[int]]:
    """Count the transactions committed on `engine` while the block runs (the list's length)."""
    commits: list[int] = []

    def on_commit(conn: Any) -> None:
        commits.append(1)

    event.listen(engine, "commit", on_commit)
    try:
        yield commits
    finally:
        event.remove(engine, "commit", on_commit)


def _stored_sequences(engine: Engine) -> list[int]:
    with Session(engine) as session:
        assert verify(session, AUDITED_MODELS) is None
        return sorted(
            int(s or 0)
            for s in session.exec(select(TestResult.instrument_sequence).where(col(TestResult.instrument_sequence) > 0))
        )


def test_each_instrument_record_is_stored_in_one_transaction(
    client: TestClient, headers: dict, engine: Engine, tmp_path: Path
) -> None:
    total = sum(RECORD_SIZES)
    seen: list[ingest.Stored] = []
    with analyzer(client, headers["tester"], tmp_path) as s:
        with create_driver("pesticide", s.driver_url) as driver, counting_commits(engine) as commits:
            new = ingest.acquire(engine, driver, count=total, idle_exit=10, on_stored=seen.append)
        assert s.sim.pending() == 0, "every record released"
    assert new == total and len(commits) == len(RECORD_SIZES) < total
    assert all(st.result_id and not st.duplicate for st in seen)
    assert _stored_sequences(engine) == [r.sequence for r in s.expected()]


def test_crash_between_commit_and_ack_stores_nothing_twice(
    client: TestClient, headers: dict, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    total = sum(RECORD_SIZES)
    with analyzer(client, headers["tester"], tmp_path) as s:
        with create_driver("pesticide", s.driver_url) as driver:
            ack = driver.ack
            acked: list[Reading] = []

            def ack_until_the_crash(reading: Reading) -> None:
                if len(acked) == RECORD_SIZES[0] + 2:  # the second record is committed, two of it acknowledged
                    raise Crash
                acked.append(reading)
                ack(reading)

            monkeypatch.setattr(driver, "ack", ack_until_the_crash)
            with pytest.raises(Crash):
                ingest.acquire(engine, driver, idle_exit=10)
        assert s.sim.pending() == len(RECORD_SIZES) - 1, "the second record is still on the analyzer"
        assert len(_stored_sequences(engine)) == sum(RECORD_SIZES[:2])
        seen: list[ingest.Stored] = []
        with create_driver("pesticide", s.driver_url) as driver:  # started again: the analyzer re-sends it
            new = ingest.acquire(engine, driver, count=RECORD_SIZES[2], idle_exit=10, on_stored=seen.append)
        assert s.sim.pending() == 0
    assert new == RECORD_SIZES[2]
    assert [st.duplicate for st in seen] == [True] * RECORD_SIZES[1] + [False] * RECORD_SIZES[2]
    assert _stored_sequences(engine) == [r.sequence for r in s.expected()]
    assert len(s.expected()) == total


def test_count_reached_inside_a_record_leaves_the_rest_on_the_instrument(
    client: TestClient, headers: dict, engine: Engine, tmp_path: Path
) -> None:
    with analyzer(client, headers["tester"], tmp_path) as s:
        with create_driver("pesticide", s.driver_url) as driver:
            assert ingest.acquire(engine, driver, count=5, idle_exit=10) == 5
        assert s.sim.pending() == len(RECORD_SIZES), "the first record is kept until all of it is acknowledged"
        assert len(_stored_sequences(engine)) == 5
        seen: list[ingest.Stored] = []
        with create_driver("pesticide", s.driver_url) as driver:
            new = ingest.acquire(engine, driver, count=sum(RECORD_SIZES) - 5, idle_exit=10, on_stored=seen.append)
        assert s.sim.pending() == 0
    assert new == sum(RECORD_SIZES) - 5 and sum(st.duplicate for st in seen) == 5
    assert _stored_sequences(engine) == [r.sequence for r in s.expected()]
