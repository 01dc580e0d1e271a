"""Signed webhooks to a real receiver on localhost: each event once, signatures checked with an independent HMAC,
retries with backoff on a stopped clock, 410 Gone, the outbox written with the change, and URL bounds."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, func, select

from lims.models import AuditEvent, TestResult
from lims.models.sharing import WebhookDelivery, WebhookEvent, WebhookSubscription
from lims.services.results import workflow
from lims.services.sharing import delivery
from lims.settings import get_settings
from tests.cases.helpers import POSITIVE_NO2, verdict
from tests.core.helpers import act, published_result, register, submit
from tests.sharing.receiver import Received, receiver
from tests.web.helpers import actor_of

START = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # 14:00 in the district
ALL_EVENTS = ["result.published", "positive.confirmed", "positive.cleared", "warning.published", "warning.withdrawn"]
ZH = {"Accept-Language": "zh-CN"}


@pytest.fixture
def traveller() -> Iterator[time_machine.Coordinates]:
    """The stopped clock, moved on by the tests (no real sleeping for the backoff)."""
    with time_machine.travel(START, tick=False) as t:
        yield t


@pytest.fixture
def private_ok(monkeypatch: pytest.MonkeyPatch) -> None:
    """Receivers on 127.0.0.1 are allowed (they are refused by default)."""
    monkeypatch.setenv("LIMS_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
    get_settings.cache_clear()


def subscribe(client: TestClient, admin: dict[str, str], url: str, events: list[str] | None = None) -> dict[str, Any]:
    """Subscribe `url` through the API and return the answer (with its secret)."""
    response = client.post("/api/v1/webhooks", json={"url": url, "events": events or ALL_EVENTS}, headers=admin)
    assert response.status_code == 201, response.text
    return dict(response.json())


def verified(secret: str, got: Received, now: datetime) -> dict[str, Any]:
    """The body of a request whose Standard Webhooks signature holds, computed here from the spec's recipe."""
    msg_id, stamp = got.headers["webhook-id"], got.headers["webhook-timestamp"]
    assert msg_id.startswith("msg_") and "." not in msg_id
    assert abs(int(stamp) - now.timestamp()) <= 300  # the spec's replay window
    assert secret.startswith("whsec_")
    key = base64.b64decode(secret[len("whsec_") :])
    assert len(key) >= 24
    content = msg_id.encode() + b"." + stamp.encode() + b"." + got.body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()
    offered = [s.split(",", 1) for s in got.headers["webhook-signature"].split(" ")]
    assert any(v == "v1" and hmac.compare_digest(sig, expected) for v, sig in offered)
    assert got.headers["content-type"].startswith("application/json")
    return dict(json.loads(got.body))


def _positive_cured_meat(client: TestClient, h: dict[str, dict[str, str]]) -> tuple[int, int]:
    """A nitrite positive on cured meat (referred to a lab at once), approved and published: (result, case)."""
    created = register(client, h["tester"], product_name="腊肉", category_code="CURED_MEAT")
    body = {"sample_label_id": created["label_id"], "item_code": "NO2", "raw": POSITIVE_NO2}
    result = client.post("/api/v1/results", json=body, headers=h["tester"]).json()
    assert result["judgement"] == "positive"
    assert act(client, h["reviewer"], result["id"], "approve").status_code == 200
    assert act(client, h["reviewer"], result["id"], "publish").status_code == 200
    cases = client.get("/api/v1/cases", headers=h["reviewer"]).json()
    return int(result["id"]), int(next(c["id"] for c in cases if c["result_id"] == result["id"]))


def test_each_event_reaches_the_receiver_once_signed(
    traveller: time_machine.Coordinates,
    private_ok: None,
    client: TestClient,
    headers: dict[str, dict[str, str]],
    engine: Engine,
) -> None:
    h = headers
    with receiver() as hook:
        created = subscribe(client, h["admin"], hook.url)
        listed = client.get("/api/v1/webhooks", headers=h["admin"]).json()
        assert [s["id"] for s in listed] == [created["id"]] and "secret" not in listed[0]  # shown once only
        negative = published_result(client, h)
        result_id, case_id = _positive_cured_meat(client, h)
        assert verdict(client, h["reviewer"], case_id).status_code == 200
        warning = client.post(
            "/api/v1/warnings",
            json={"title_zh": "腊肉亚硝酸盐警示", "body_zh": "请勿购买散装腊肉", "item_code": "NO2"},
            headers=h["reviewer"],
        ).json()
        withdrawn = client.post(
            f"/api/v1/warnings/{warning['id']}/withdraw", json={"reason": "已下架"}, headers=h["reviewer"]
        )
        assert withdrawn.status_code == 200

        report = delivery.deliver_due(engine)
        assert (report.attempted, report.delivered) == (5, 5)
        again = delivery.deliver_due(engine)
        assert again.attempted == 0
        bodies = [verified(created["secret"], got, START) for got in hook.received]

    assert len(hook.received) == 5
    assert len({got.headers["webhook-id"] for got in hook.received}) == 5
    assert all(got.path == "/hooks/lims?src=test" for got in hook.received)
    by_type = {b["type"]: b for b in bodies}
    assert sorted(b["type"] for b in bodies) == [
        "positive.confirmed",
        "result.published",
        "result.published",
        "warning.published",
        "warning.withdrawn",
    ]
    published = [b["data"] for b in bodies if b["type"] == "result.published"]
    assert sorted(d["result_id"] for d in published) == sorted([negative["id"], result_id])
    positive = next(d for d in published if d["result_id"] == result_id)
    assert (positive["judgement"], positive["case_state"], positive["item_code"]) == (
        "positive",
        "retest_in_progress",
        "NO2",
    )
    assert "tester" not in json.dumps(positive) and "raw" not in positive  # the public record only
    confirmed = by_type["positive.confirmed"]["data"]
    assert (confirmed["case_id"], confirmed["case_state"], confirmed["result"]["result_id"]) == (
        case_id,
        "confirmed",
        result_id,
    )
    assert by_type["warning.published"]["data"]["title_zh"] == "腊肉亚硝酸盐警示"
    assert by_type["warning.withdrawn"]["data"]["withdrawn_reason"] == "已下架"
    for body in bodies:
        assert body["timestamp"].endswith("Z") and set(body) == {"type", "timestamp", "data"}
    log = client.get(f"/api/v1/webhooks/{created['id']}/attempts", headers=h["admin"]).json()
    assert len(log) == 5 and {a["status_code"] for a in log} == {200} and {a["state"] for a in log} == {"delivered"}
    counts = client.get("/api/v1/webhooks", headers=h["admin"]).json()[0]
    assert (counts["delivered"], counts["pending"], counts["failed"]) == (5, 0, 0)


def test_a_failing_receiver_gets_it_on_the_third_try_after_backoff(
    traveller: time_machine.Coordinates,
    private_ok: None,
    client: TestClient,
    headers: dict[str, dict[str, str]],
    engine: Engine,
) -> None:
    h = headers
    with receiver(answers=[500, 503]) as hook:
        created = subscribe(client, h["admin"], hook.url, ["result.published"])
        published_result(client, h)
        rng = random.Random(14)
        waits = []
        for expected_try in (1, 2):
            report = delivery.deliver_due(engine, rng=rng)
            assert (report.attempted, report.retrying) == (1, 1)
            assert delivery.deliver_due(engine, rng=rng).attempted == 0  # not due again before its backoff
            with Session(engine) as session:
                row = session.exec(select(WebhookDelivery)).one()
            assert row.attempts == expected_try and row.state == "pending" and row.next_attempt_at is not None
            wait = row.next_attempt_at - datetime.now(UTC)
            waits.append(wait)
            base = 5 * 2 ** (expected_try - 1)
            assert timedelta(seconds=base / 2) <= wait <= timedelta(seconds=base)  # jitter within [½, 1] × 5·2ⁿ s
            traveller.shift(wait - timedelta(seconds=1))
            assert delivery.deliver_due(engine, rng=rng).attempted == 0  # a second early: still waiting
            traveller.shift(timedelta(seconds=1))
        final = delivery.deliver_due(engine, rng=rng)
        assert (final.attempted, final.delivered) == (1, 1)
        assert delivery.deliver_due(engine, rng=rng).attempted == 0
        received = list(hook.received)
    assert len(received) == 3
    assert len({r.headers["webhook-id"] for r in received}) == 1  # one event, retried under its own id
    for got, at in zip(received, [START, START + waits[0], START + waits[0] + waits[1]], strict=True):
        verified(created["secret"], got, at)
    log = client.get(f"/api/v1/webhooks/{created['id']}/attempts", headers=h["admin"]).json()
    assert [a["number"] for a in log] == [3, 2, 1]
    assert [a["status_code"] for a in log] == [200, 503, 500]
    assert log[0]["next_attempt_at"] is None and all(a["next_attempt_at"] for a in log[1:])
    assert all(len(a["response_excerpt"]) <= 300 for a in log) and log[2]["response_excerpt"].startswith("xxx")
    assert all(a["latency_ms"] >= 0 for a in log)


def test_backoff_doubles_to_its_cap_with_jitter() -> None:
    rng = random.Random(1)
    for attempt in range(1, 30):
        ceiling = min(timedelta(hours=6), timedelta(seconds=5 * 2 ** (attempt - 1)))
        wait = delivery.backoff(attempt, rng)
        assert ceiling / 2 <= wait <= ceiling
    assert delivery.backoff(200, rng) <= timedelta(hours=6)


def test_gone_disables_the_subscription_and_a_private_target_is_refused_at_delivery(
    traveller: time_machine.Coordinates,
    private_ok: None,
    client: TestClient,
    headers: dict[str, dict[str, str]],
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    h = headers
    with receiver(answers=[410]) as hook:
        gone = subscribe(client, h["admin"], hook.url, ["result.published"])
        published_result(client, h)
        report = delivery.deliver_due(engine)
        assert (report.attempted, report.failed) == (1, 1)
        assert len(hook.received) == 1
        listed = client.get("/api/v1/webhooks", headers=h["admin"]).json()[0]
        assert (listed["enabled"], listed["failed"]) == (False, 1) and "410" in listed["disabled_reason"]
        with Session(engine) as session:
            event = session.exec(
                select(AuditEvent).where(AuditEvent.entity == "webhook_subscription", AuditEvent.action == "disable")
            ).one()
        assert (event.actor, event.entity_id) == ("system", gone["id"])
        again = client.post(f"/api/v1/webhooks/{gone['id']}/disable", headers=h["admin"])
        assert again.status_code == 409

        # Allowed when made, refused when the setting no longer allows private receivers: logged and retried.
        subscribe(client, h["admin"], hook.url, ["result.published"])
        monkeypatch.setenv("LIMS_WEBHOOK_ALLOW_PRIVATE_TARGETS", "false")
        get_settings.cache_clear()
        published_result(client, h)
        report = delivery.deliver_due(engine)
        assert (report.attempted, report.retrying) == (1, 1)
        assert len(hook.received) == 1
    second = client.get("/api/v1/webhooks", headers=h["admin"]).json()[1]
    log = client.get(f"/api/v1/webhooks/{second['id']}/attempts", headers=h["admin"]).json()
    assert log[0]["status_code"] is None and "private" in log[0]["error"]


def test_the_outbox_is_written_with_the_change_or_not_at_all(
    private_ok: None, client: TestClient, headers: dict[str, dict[str, str]], engine: Engine
) -> None:
    h = headers
    subscribe(client, h["admin"], "http://127.0.0.1:9/nowhere", ["result.published"])
    sample = register(client, h["tester"])
    result = submit(client, h["tester"], sample["label_id"])
    assert act(client, h["reviewer"], result["id"], "approve").status_code == 200
    with Session(engine) as session:
        row = session.get(TestResult, result["id"])
        assert row is not None
        workflow.transition(session, actor_of(session, "reviewer"), row, "publish")
        assert session.exec(select(func.count()).select_from(WebhookEvent)).one() == 1  # in the transaction
        session.rollback()  # the publication did not happen: neither did its event
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(WebhookEvent)).one() == 0
    assert act(client, h["reviewer"], result["id"], "publish").status_code == 200
    with Session(engine) as session:
        event = session.exec(select(WebhookEvent)).one()
        assert event.type == "result.published" and json.loads(event.body)["data"]["result_id"] == result["id"]
        assert session.exec(select(func.count()).select_from(WebhookDelivery)).one() == 1
    # A disabled subscription is not given new events.
    subscription_id = client.get("/api/v1/webhooks", headers=h["admin"]).json()[0]["id"]
    assert client.post(f"/api/v1/webhooks/{subscription_id}/disable", headers=h["admin"]).status_code == 200
    published_result(client, h)
    with Session(engine) as session:
        assert session.exec(select(func.count()).select_from(WebhookEvent)).one() == 1
        assert session.exec(select(WebhookSubscription)).one().enabled is False


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("ftp://platform.example.cn/hook", "https://"),
        ("http://127.0.0.1:8080/hook", "127.0.0.1"),
        ("http://10.1.2.3/hook", "10.1.2.3"),
        ("http://169.254.169.254/latest/meta-data", "169.254.169.254"),
        ("http://[::ffff:192.168.0.1]/hook", "192.168.0.1"),
        ("http://[::1]/hook", "::1"),
        ("https://user:secret@platform.example.cn/hook", "platform.example.cn"),
        ("https://platform.example.cn/hook#frag", "#"),
        ("http://0.0.0.0/hook", "0.0.0.0"),
        ("https:///nohost", "nohost"),
    ],
)
def test_bad_urls_are_refused_in_chinese(
    client: TestClient, headers: dict[str, dict[str, str]], url: str, needle: str
) -> None:
    response = client.post(
        "/api/v1/webhooks", json={"url": url, "events": ["result.published"]}, headers={**headers["admin"], **ZH}
    )
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert response.json()["code"].startswith("webhooks.")
    assert any("\u4e00" <= ch <= "\u9fff" for ch in detail), detail  # the reason in Chinese
    del needle


def test_subscriptions_are_bounded_and_for_administrators(
    private_ok: None, client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    h = headers
    body = {"url": "http://127.0.0.1:9/x", "events": ["result.published"]}
    assert client.post("/api/v1/webhooks", json=body, headers=h["reviewer"]).status_code == 403
    assert client.get("/api/v1/webhooks", headers=h["tester"]).status_code == 403
    assert client.post("/api/v1/webhooks", json={**body, "events": []}, headers=h["admin"]).status_code == 422
    assert (
        client.post("/api/v1/webhooks", json={**body, "events": ["result.eaten"]}, headers=h["admin"]).status_code
        == 422
    )
    long_url = "http://127.0.0.1:9/" + "a" * 3000
    assert client.post("/api/v1/webhooks", json={**body, "url": long_url}, headers=h["admin"]).status_code == 422
    assert client.get("/api/v1/webhooks/999999/attempts", headers=h["admin"]).status_code == 404
    assert client.get("/api/v1/webhooks/0/attempts", headers=h["admin"]).status_code == 422
    for _ in range(20):
        assert client.post("/api/v1/webhooks", json=body, headers=h["admin"]).status_code == 201
    assert client.post("/api/v1/webhooks", json=body, headers=h["admin"]).status_code == 422
