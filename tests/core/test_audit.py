"""The audit trail: every change is chained; `lims audit verify` finds tampering with data or trail."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys

from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from lims.models import AuditEvent
from lims.services.core import audit
from lims.services.core.audit_tables import AUDITED_MODELS
from tests.core.helpers import published_result


def _verify_cli(engine: Engine) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LIMS_DATABASE_URL": engine.url.render_as_string(hide_password=False)}
    return subprocess.run(
        [sys.executable, "-m", "lims", "audit", "verify"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_verify_passes_then_names_the_tampered_result(client: TestClient, headers: dict, engine: Engine) -> None:
    result = published_result(client, headers)
    ok = _verify_cli(engine)
    assert ok.returncode == 0, ok.stderr
    assert "intact" in ok.stdout
    with engine.begin() as conn:
        conn.execute(text("UPDATE test_result SET judgement = 'positive' WHERE id = :id"), {"id": result["id"]})
    broken = _verify_cli(engine)
    assert broken.returncode != 0
    assert f"test_result {result['id']}" in broken.stderr
    assert "judgement" in broken.stderr


def test_verify_finds_an_edited_or_removed_event(client: TestClient, headers: dict, engine: Engine) -> None:
    published_result(client, headers)
    with Session(engine) as session:
        last = session.exec(select(AuditEvent).order_by(col(AuditEvent.id).desc())).first()
        assert last is not None and audit.verify(session, AUDITED_MODELS) is None
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_event SET actor = 'someone-else' WHERE id = :id"), {"id": last.id})
    with Session(engine) as session:
        found = audit.verify(session, AUDITED_MODELS)
    assert found is not None and found.event_id == last.id and "hash" in found.problem
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_event WHERE id = :id"), {"id": int(last.id or 0) - 1})
    with Session(engine) as session:
        found = audit.verify(session, AUDITED_MODELS)
    assert found is not None and "link" in found.problem


def test_every_transition_appends_one_event(client: TestClient, headers: dict, engine: Engine) -> None:
    with Session(engine) as session:
        before = len(session.exec(select(AuditEvent.id)).all())
    result = published_result(client, headers)
    with Session(engine) as session:
        events = session.exec(select(AuditEvent).where(col(AuditEvent.id) > before).order_by(col(AuditEvent.id))).all()
    actions = [(e.entity, e.action) for e in events]
    assert actions == [
        ("sample", "register"),
        ("sample_version", "version"),
        ("test_result", "submit"),
        ("test_result", "approve"),
        ("review", "sign"),
        ("test_result", "publish"),
        ("review", "sign"),
    ]
    publish = events[-2]
    assert publish.before is not None and publish.before["status"] == "approved"
    assert publish.after is not None and publish.after["status"] == "published"
    assert publish.actor == "reviewer" and publish.entity_id == result["id"]
    assert all(e.prev_hash == p.hash for p, e in itertools.pairwise(events))
