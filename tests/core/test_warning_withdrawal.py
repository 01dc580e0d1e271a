"""Withdrawing a consumption-safety warning: reviewers only, with a reason, once; the record and its audit stay."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from lims.models import AuditEvent, PublicWarning
from lims.services.core import audit
from lims.services.core.audit import SYSTEM
from lims.services.core.audit_tables import AUDITED_MODELS
from lims.services.reference import registry

WARNING = {"title_zh": "某批次豆芽暂停食用", "body_zh": "检出疑似阳性，待复检。", "gtin": "6901234567892"}


def _publish(client: TestClient, headers: dict[str, dict[str, str]]) -> int:
    response = client.post("/api/v1/warnings", json=WARNING, headers=headers["reviewer"])
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_withdrawal_rules(client: TestClient, headers: dict[str, dict[str, str]], engine: Engine) -> None:
    warning_id = _publish(client, headers)
    url = f"/api/v1/warnings/{warning_id}/withdraw"
    assert client.post(url, json={"reason": "复检合格"}).status_code == 401
    tester = client.post(url, json={"reason": "复检合格"}, headers=headers["tester"])
    assert tester.status_code == 403 and "reviewer" in tester.json()["detail"]
    assert client.post(url, json={"reason": " "}, headers=headers["reviewer"]).status_code == 422
    assert client.post(url, json={}, headers=headers["reviewer"]).status_code == 422
    missing = client.post("/api/v1/warnings/999999/withdraw", json={"reason": "复检合格"}, headers=headers["reviewer"])
    assert missing.status_code == 404

    done = client.post(url, json={"reason": "复检合格，警示撤回"}, headers=headers["reviewer2"])
    assert done.status_code == 200, done.text
    assert done.json()["withdrawn_reason"] == "复检合格，警示撤回" and done.json()["withdrawn_at"]
    again = client.post(url, json={"reason": "再次撤回"}, headers=headers["reviewer"])
    assert again.status_code == 409 and "already withdrawn" in again.json()["detail"]

    assert warning_id not in [w["id"] for w in client.get("/api/v1/warnings").json()]
    with Session(engine) as session:
        row = session.get(PublicWarning, warning_id)
        assert row is not None and row.withdrawn_reason == "复检合格，警示撤回"  # kept, never deleted
        event = session.exec(
            select(AuditEvent)
            .where(AuditEvent.entity == "public_warning", AuditEvent.entity_id == warning_id)
            .order_by(col(AuditEvent.id).desc())
        ).first()
        assert event is not None and event.action == "withdraw" and event.actor == "reviewer2"
        assert event.before is not None and event.before["withdrawn_at"] is None
        assert audit.verify(session, AUDITED_MODELS) is None


def test_withdrawn_warning_leaves_the_product_trace(
    client: TestClient, headers: dict[str, dict[str, str]], engine: Engine
) -> None:
    with Session(engine) as session:
        registry.load_samples(session, SYSTEM)
        session.commit()
    body = {**WARNING, "gtin": "6920152400012"}
    created = client.post("/api/v1/warnings", json=body, headers=headers["reviewer"]).json()
    titles = [w["title_zh"] for w in client.get("/api/v1/trace/6920152400012").json()["warnings"]]
    assert WARNING["title_zh"] in titles
    client.post(f"/api/v1/warnings/{created['id']}/withdraw", json={"reason": "误发"}, headers=headers["reviewer"])
    titles = [w["title_zh"] for w in client.get("/api/v1/trace/6920152400012").json()["warnings"]]
    assert WARNING["title_zh"] not in titles
