"""Migration 0012: readings stored under the pesticide analyzer's old figure names stay assignable and
audited, on SQLite and PostgreSQL; the downgrade gives the old names back."""

from __future__ import annotations

import importlib.util
from types import ModuleType
from typing import Any

from alembic.migration import MigrationContext
from alembic.operations import Operations
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from instrument_drivers.reading import Reading
from lims.migrations.data_rewrites import REWRITES
from lims.models import HeldReading, TestResult
from lims.services.core import audit
from lims.services.core.audit import SYSTEM
from lims.services.core.audit_tables import AUDITED_MODELS, chain_of
from lims.services.core.schema import MIGRATIONS
from lims.services.results import holding, ingest
from tests.core.helpers import register
from tests.web.helpers import actor_of

OLD = {"delta_a_control": 0.6, "delta_a_sample": 0.18}
NEW = {"control_dA": 0.6, "sample_dA": 0.18}


def _migration() -> ModuleType:
    path = next((MIGRATIONS / "versions").glob("0012_*.py"))
    spec = importlib.util.spec_from_file_location("migration_0012", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(engine: Engine, step: str) -> None:
    with engine.begin() as connection, Operations.context(MigrationContext.configure(connection)):
        getattr(_migration(), step)()


def _reading(sequence: int, label: str | None) -> Reading:
    raw: dict[str, Any] = {"run": 7, **NEW, "inhibition_pct": 70.0}
    return Reading("PR-8CH-0001", "pesticide", sequence, "OPC", 1, label, raw, 70.0, "%", "positive")


def _as_stored_before(session: Session, row: HeldReading | TestResult) -> None:
    """Give `row` the old figure names, as a version before 0012 stored and audited it."""
    if isinstance(row, HeldReading):
        row.reading = {**row.reading, "raw": {"run": 7, **OLD, "inhibition_pct": 70.0}}
    else:
        row.raw = {**row.raw, "instrument": {"run": 7, **OLD, "inhibition_pct": 70.0}}
    session.add(row)
    session.flush()
    table = str(row.__tablename__)
    audit.append(session, SYSTEM, chain_of(session, row), table, int(row.id or 0), "store", None, audit.snapshot(row))


def test_old_names_are_renamed_recorded_and_assignable(client: TestClient, headers: dict, engine: Engine) -> None:
    label = register(client, headers["tester"])["label_id"]
    with Session(engine, expire_on_commit=False) as session:
        held_id = ingest.store(session, _reading(501, None)).held_id
        result_id = ingest.store(session, _reading(502, label)).result_id
        held, result = session.get(HeldReading, held_id), session.get(TestResult, result_id)
        assert held is not None and result is not None
        _as_stored_before(session, held)
        _as_stored_before(session, result)
        session.commit()

    _run(engine, "upgrade")
    with Session(engine) as session:
        held, result = session.get(HeldReading, held_id), session.get(TestResult, result_id)
        assert held is not None and result is not None
        assert held.reading["raw"] == {"run": 7, **NEW, "inhibition_pct": 70.0}
        assert result.raw["instrument"] == {"run": 7, **NEW, "inhibition_pct": 70.0}
        assert result.raw["control_dA"] == 0.6  # the submitted figures had the judgement's names already
        assert audit.verify(session, AUDITED_MODELS) is not None  # the rewrite is a break until the upgrade records it
        assert audit.record_schema_changes(session, AUDITED_MODELS) == 0  # undeclared: never recorded away
        assert audit.record_schema_changes(session, AUDITED_MODELS, rewrites=REWRITES) == 2
        session.commit()
        assert audit.verify(session, AUDITED_MODELS) is None

        assigned = holding.assign(session, actor_of(session, "tester"), held_id or 0, label)
        assert (assigned.judgement, assigned.value) == ("positive", 70.0)
        session.commit()

    _run(engine, "downgrade")
    with engine.connect() as connection:
        stored = connection.execute(text("SELECT reading FROM held_reading WHERE id = :i"), {"i": held_id}).scalar()
    assert "delta_a_control" in str(stored) and "control_dA" not in str(stored)


def test_rows_without_the_old_names_are_left_alone(engine: Engine) -> None:
    with Session(engine) as session:
        gold = Reading("GR-CR-0001", "gold", 11, "CLB", None, None, {"t": 0.5, "c": 1.0, "kit_lot": "L"}, 0.5)
        held_id = ingest.store(session, gold).held_id
        session.commit()
    _run(engine, "upgrade")
    with Session(engine) as session:
        held = session.get(HeldReading, held_id)
        assert held is not None and held.reading["raw"] == {"t": 0.5, "c": 1.0, "kit_lot": "L"}
        assert audit.verify(session, AUDITED_MODELS) is None
