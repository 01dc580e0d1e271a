"""Drafted warnings: a signal becomes a draft that is not public, is edited, published once and numbered per year."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from lims.models import AuditEvent, PublicWarning, User
from lims.services.access import auth
from lims.services.cases import warnings
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict
from tests.analysis.seeding import NOW, WINDOW, Batch, background, seed
from tests.web.helpers import post_form, sign_in

REF = {"point": "P05", "category": "VEG_LEAF", "item": "OPC"}


@pytest.fixture(autouse=True)
def _frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def rising(session: Session) -> None:
    """A district whose point P05 has a rising OPC rate on leafy vegetables (8 of 30 this month, 3 % before)."""
    seed(session, [*background(), Batch("P05", 20, 8, WINDOW, product="菠菜")])


def _draft(client: TestClient, headers: dict[str, dict[str, str]]) -> dict[str, Any]:
    response = client.post("/api/v1/signals/drafts", json=REF, headers=headers["reviewer"])
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_signal_list_roles_and_draft_refusals(
    rising: None, client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    listed = client.get("/api/v1/signals", headers=headers["reviewer"]).json()
    assert [s["point_code"] for s in listed["signals"]] == ["P05"]
    assert listed["signals"][0]["window"] == {"tested": 30, "positive": 8, "rate": pytest.approx(8 / 30)}
    assert listed["parameters"]["min_positives"] == 3 and listed["comparisons"] == 16
    assert client.get("/api/v1/signals").status_code == 401
    assert client.get("/api/v1/signals", headers=headers["tester"]).status_code == 403
    assert client.get("/api/v1/signals", headers=headers["station"]).json()["signals"] == []  # nothing published
    assert client.post("/api/v1/signals/drafts", json=REF, headers=headers["station"]).status_code == 403
    none = client.post("/api/v1/signals/drafts", json={**REF, "point": "P01"}, headers=headers["reviewer"])
    assert none.status_code == 404 and "no signal" in none.json()["detail"]
    too_long = client.post("/api/v1/signals/drafts", json={**REF, "item": "X" * 17}, headers=headers["reviewer"])
    assert too_long.status_code == 422
    first = _draft(client, headers)
    again = client.post("/api/v1/signals/drafts", json=REF, headers=headers["reviewer"])
    assert again.status_code == 409 and str(first["id"]) in again.json()["detail"]


def test_draft_is_edited_then_published_with_the_next_number(
    rising: None, client: TestClient, headers: dict[str, dict[str, str]], engine: Engine
) -> None:
    direct = client.post(
        "/api/v1/warnings", json={"title_zh": "豆芽暂停食用", "body_zh": "检出疑似阳性。"}, headers=headers["reviewer"]
    )
    assert direct.json()["year"] == 2026 and direct.json()["sequence"] == 1
    draft = _draft(client, headers)
    assert draft["state"] == "draft" and draft["published_at"] is None and draft["sequence"] is None
    assert "12315" in draft["body_zh"] and draft["product"] == "菠菜" and draft["signal"]["window"] == [8, 30]
    public = [w["id"] for w in client.get("/api/v1/warnings").json()]
    assert draft["id"] not in public  # a draft is not public: not listed, not on the page, not in the feed
    assert draft["title_zh"] not in client.get("/warnings").text
    assert draft["title_zh"] not in client.get("/warnings.atom").text
    url = f"/api/v1/warnings/drafts/{draft['id']}"
    assert client.get(url, headers=headers["station"]).status_code == 403
    edit = {k: draft[k] for k in ("title_zh", "product", "finding", "source", "advice", "item_code", "category_code")}
    edit |= {"advice": "暂停购买该点菠菜，已购买的请浸泡清洗。", "revision": 1}
    edited = client.put(url, json=edit, headers=headers["reviewer"])
    assert edited.status_code == 200 and edited.json()["revision"] == 2
    assert "暂停购买该点菠菜" in edited.json()["body_zh"]
    stale = client.put(url, json={**edit, "advice": "旧版本的修改"}, headers=headers["reviewer2"])
    assert stale.status_code == 409 and "reload" in stale.json()["detail"]
    assert client.put(url, json={**edit, "finding": "", "revision": 2}, headers=headers["reviewer"]).status_code == 422
    old = client.post(f"{url}/publish", json={"revision": 1}, headers=headers["reviewer"])
    assert old.status_code == 409  # published only as the reviewer last read it
    done = client.post(f"{url}/publish", json={"revision": 2}, headers=headers["reviewer2"])
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "published" and (done.json()["year"], done.json()["sequence"]) == (2026, 2)
    assert draft["id"] in [w["id"] for w in client.get("/api/v1/warnings").json()]
    assert "2026年第2期" in client.get("/warnings").text
    assert client.post(f"{url}/publish", json={"revision": 3}, headers=headers["reviewer"]).status_code == 409
    with Session(engine) as session:
        actions = session.exec(
            select(AuditEvent.action)
            .where(AuditEvent.entity == "public_warning", AuditEvent.entity_id == draft["id"])
            .order_by(col(AuditEvent.id))
        ).all()
        assert list(actions) == ["draft", "edit_draft", "publish"]


def test_discarded_draft_stays_on_record_and_is_never_public(
    rising: None, client: TestClient, headers: dict[str, dict[str, str]], engine: Engine
) -> None:
    draft = _draft(client, headers)
    url = f"/api/v1/warnings/drafts/{draft['id']}"
    withdraw = f"/api/v1/warnings/{draft['id']}/withdraw"
    refused = client.post(withdraw, json={"reason": "误发草稿"}, headers=headers["reviewer"])
    assert refused.status_code == 409 and "draft" in refused.json()["detail"]
    discarded = client.post(f"{url}/discard", json={"revision": 1}, headers=headers["reviewer"])
    assert discarded.json()["state"] == "discarded"
    assert client.post(f"{url}/publish", json={"revision": 2}, headers=headers["reviewer"]).status_code == 409
    with Session(engine) as session:
        assert session.get(PublicWarning, draft["id"]) is not None
    assert draft["id"] not in [w["id"] for w in client.get("/api/v1/warnings").json()]


def test_two_reviewers_publish_the_same_draft_at_once(
    rising: None, client: TestClient, headers: dict[str, dict[str, str]], engine: Engine
) -> None:
    draft = _draft(client, headers)
    with Session(engine) as session:
        reviewers = [auth.actor_for(u) for u in session.exec(select(User).where(User.role == "reviewer"))]
    barrier = threading.Barrier(len(reviewers))
    outcomes: list[str] = []

    def publish(actor: Actor) -> None:
        with Session(engine, expire_on_commit=False) as session:
            try:
                barrier.wait(timeout=10)
                warnings.publish_draft(session, actor, draft["id"], 1)
                session.commit()
                outcomes.append("ok")
            except Conflict as exc:
                session.rollback()
                outcomes.append(f"conflict: {exc.code}")
            except Exception as exc:  # a database-level refusal (SQLite's busy lock) is also a lost race
                session.rollback()
                outcomes.append(f"db: {type(exc).__name__}")

    threads = [threading.Thread(target=publish, args=(actor,)) for actor in reviewers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(outcomes)[-1] == "ok" and outcomes.count("ok") == 1, outcomes
    with Session(engine) as session:
        row = session.get(PublicWarning, draft["id"])
        assert row is not None and row.state == "published" and row.sequence == 1
        publications = session.exec(
            select(AuditEvent).where(AuditEvent.entity == "public_warning", AuditEvent.action == "publish")
        ).all()
        assert len(publications) == 1


def test_the_pages_for_reviewers_and_stations(rising: None, app: Any) -> None:
    reviewer = sign_in(app, "reviewer")
    page = reviewer.get("/signals")
    assert page.status_code == 200 and 'data-signal="P05/VEG_LEAF/OPC"' in page.text and "起草警示" in page.text
    created = post_form(reviewer, "/signals", "/signals/draft", REF)
    assert created.status_code == 303
    editor_url = created.headers["location"]
    editor = reviewer.get(editor_url)
    assert editor.status_code == 200 and "尚未公开" in editor.text and "12315" in editor.text
    unconfirmed = post_form(reviewer, editor_url, f"{editor_url}/publish", {"revision": "1"})
    assert unconfirmed.status_code == 422 and "我确认" in unconfirmed.text
    empty = post_form(reviewer, editor_url, editor_url, {"revision": "1", "title_zh": "x"})
    assert empty.status_code == 422 and "Traceback" not in empty.text
    published = post_form(reviewer, editor_url, f"{editor_url}/publish", {"revision": "1", "confirm": "true"})
    assert published.status_code == 303 and published.headers["location"] == "/signals?done=published"
    again = post_form(reviewer, editor_url, f"{editor_url}/publish", {"revision": "1", "confirm": "true"})
    assert again.status_code == 409 and "已不是草稿" in again.text
    station = sign_in(app, "station")
    seen = station.get("/signals")
    assert seen.status_code == 200 and "起草警示" not in seen.text
    assert station.get(editor_url).status_code == 403
    assert sign_in(app, "tester").get("/signals").status_code == 403
