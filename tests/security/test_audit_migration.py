"""Existing databases migrate: the unkeyed chain written before migration 0008 is verified once and sealed,
the keyed chains continue from it, and a broken one is not sealed silently. Fields a later migration adds
to audited rows are recorded at the upgrade, without hiding any other change."""

from __future__ import annotations

import hashlib
import json
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, select
from sqlmodel.sql.sqltypes import UTCDateTime

from lims.models import AuditEvent, Sample
from lims.services.core import audit, audit_checkpoints, schema
from lims.services.core.audit import SYSTEM, LegacyChainBroken
from lims.services.core.audit_tables import AUDITED_MODELS, LEGACY, SHARED, chain_of
from lims.settings import get_settings
from tests.core.helpers import register
from tests.security.audit_helpers import lims

OLD_HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"


def _old_hash(event: dict[str, Any]) -> str:
    """The unkeyed scheme as main wrote it before 0008: SHA-256 over the public fields and the previous hash."""
    body = {k: event[k] for k in ("actor", "role", "entity", "entity_id", "action", "before", "after", "prev_hash")}
    body["at"] = event["at"].isoformat()
    return hashlib.sha256(
        json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()


def _build_old_database(engine: Engine, *, break_chain: bool = False) -> None:
    """Schema 0007 with a district, a user with a password hash, a notification mark, and their old-style events."""
    schema.upgrade(engine, "0007")
    meta = sa.MetaData()
    events = sa.Table(
        "audit_event",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", UTCDateTime()),
        *(sa.Column(c, sa.String) for c in ("actor", "role", "entity", "action", "prev_hash", "hash")),
        sa.Column("entity_id", sa.Integer),
        sa.Column("before", sa.JSON),
        sa.Column("after", sa.JSON),
    )
    marks = sa.Table(
        "notification_mark",
        meta,
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer),
        sa.Column("seen_until", UTCDateTime()),
    )
    district = {"id": 1, "code": "XQ", "name": "x区", "name_en": "x District"}
    user = {
        "id": 1,
        "username": "alice",
        "full_name": "",
        "role": "station",
        "password_hash": OLD_HASH,
        "district_id": 1,
        "station_id": None,
        "active": True,
    }
    seen = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    at = datetime(2026, 11, 30, 7, 0, 0, 123456, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO district (id, code, name, name_en) VALUES (:id, :code, :name, :name_en)"), district
        )
        conn.execute(
            text(
                "INSERT INTO app_user (id, username, full_name, role, password_hash, district_id, station_id, active) "
                "VALUES (:id, :username, :full_name, :role, :password_hash, :district_id, :station_id, :active)"
            ),
            user,
        )
        conn.execute(marks.insert().values(id=1, user_id=1, seen_until=seen))
        previous = audit.GENESIS
        for number, (entity, after) in enumerate((("district", district), ("app_user", user)), start=1):
            event = {
                "at": at,
                "actor": "system",
                "role": "system",
                "entity": entity,
                "entity_id": 1,
                "action": "create",
                "before": None,
                "after": after,
                "prev_hash": previous if not (break_chain and number == 2) else "0" * 63 + "1",
            }
            event["hash"] = _old_hash(event)
            conn.execute(events.insert().values(**event))
            previous = event["hash"]
        if engine.dialect.name == "postgresql":  # the rows above were given their ids
            for table in ("district", "app_user", "notification_mark"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), 1)"))


def _check(engine: Engine) -> audit.Report:
    with Session(engine) as session:
        return audit_checkpoints.verify(session, AUDITED_MODELS)


def test_an_old_chain_is_sealed_and_the_keyed_chains_continue(
    empty_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _build_old_database(empty_engine)
    monkeypatch.delenv("LIMS_AUDIT_KEY")  # `lims db upgrade` without a configured key: the key file is created
    get_settings.cache_clear()

    schema.upgrade(empty_engine)

    key_file = tmp_path / "var" / "audit_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    report = _check(empty_engine)
    assert report.intact, report.breaks
    assert report.chains[LEGACY] == 2 and report.chains[SHARED] >= 1 and report.chains["district:1"] >= 1
    with Session(empty_engine) as session:
        seal = session.exec(select(AuditEvent).where(AuditEvent.action == "seal")).one()
        legacy = session.exec(select(AuditEvent).where(AuditEvent.chain == LEGACY).order_by(AuditEvent.seq)).all()
        start = session.exec(select(AuditEvent).where(AuditEvent.entity == "notification_mark")).one()
        everything = json.dumps([[e.before, e.after] for e in session.exec(select(AuditEvent))])
    assert (seal.chain, seal.seq, seal.mac is not None) == (SHARED, 1, True)
    assert seal.after is not None and seal.after["count"] == 2 and seal.after["head"] == legacy[-1].hash
    assert seal.after["intact"] is True and seal.after["redacted"] == [2]  # the user's event
    assert (start.action, start.chain) == ("audit_start", "district:1")
    assert OLD_HASH not in everything and "$argon2" not in everything

    # The keyed chains go on from here.
    seal_count = report.chains[SHARED]
    assert lims(empty_engine, "reference", "load").exit_code == 0
    assert lims(empty_engine, "audit", "checkpoint").exit_code == 0
    report = _check(empty_engine)
    assert report.intact, report.breaks
    assert report.chains[SHARED] > seal_count

    # The sealed events cannot be changed either: the seal's digest covers them.
    with empty_engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'someone' WHERE chain = 'legacy' AND seq = 1"))
    outcome = lims(empty_engine, "audit", "verify")
    assert outcome.exit_code == 1
    assert f"chain legacy, event {legacy[0].id}, district 1: the sealed unkeyed chain was altered" in outcome.stderr


def test_a_broken_old_chain_is_not_sealed_silently(empty_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    _build_old_database(empty_engine, break_chain=True)

    with pytest.raises(LegacyChainBroken, match=r"broken at event 2 \(app_user 1\).*not sealed silently"):
        schema.upgrade(empty_engine)
    with empty_engine.connect() as conn:  # nothing of the upgrade stayed
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == "0007"
        assert not sa.inspect(conn).has_table("audit_chain")
    outcome = lims(empty_engine, "db", "upgrade")
    assert outcome.exit_code == 1 and "LIMS_AUDIT_SEAL_BROKEN_CHAIN=1" in outcome.stderr

    monkeypatch.setenv("LIMS_AUDIT_SEAL_BROKEN_CHAIN", "1")
    get_settings.cache_clear()
    schema.upgrade(empty_engine)
    report = _check(empty_engine)
    assert report.intact, report.breaks
    assert any("sealed with a recorded break: event 2 (app_user 1)" in note for note in report.notes)


def test_fields_added_by_a_migration_are_recorded_at_the_upgrade(
    client: TestClient, headers: dict, engine: Engine
) -> None:
    sample = register(client, headers["tester"], batch="B-1")
    with Session(engine, expire_on_commit=False) as session:  # the event as a version without `batch` wrote it
        row = session.get(Sample, sample["id"])
        assert row is not None
        older = {k: v for k, v in audit.snapshot(row).items() if k != "batch"}
        audit.append(session, SYSTEM, chain_of(session, row), "sample", int(row.id or 0), "register", None, older)
        session.commit()
    assert _check(engine).breaks  # the row now has a field its last event lacks

    with Session(engine) as session:
        assert audit.record_schema_changes(session, AUDITED_MODELS) == 1
        session.commit()
    assert _check(engine).intact
    with Session(engine) as session:
        last = session.exec(select(AuditEvent).order_by(AuditEvent.id.desc())).first()  # type: ignore[union-attr]
    assert last is not None and (last.action, last.actor) == ("schema_upgrade", "lims db upgrade")

    with engine.begin() as conn:  # any other difference is still reported, never recorded away
        conn.execute(text("UPDATE sample SET batch = 'B-2' WHERE id = :i"), {"i": sample["id"]})
    with Session(engine) as session:
        assert audit.record_schema_changes(session, AUDITED_MODELS) == 0
    broken = _check(engine)
    assert [b.entity for b in broken.breaks] == ["sample"] and "batch" in broken.breaks[0].problem
