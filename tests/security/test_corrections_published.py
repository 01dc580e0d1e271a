"""What the public was shown changes only through a reviewed new version (four-eyes), and stays audited."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lims.models import User
from lims.models.samples import SampleCorrection
from lims.services.access import auth
from lims.services.core.audit import Actor
from lims.services.core.errors import Forbidden
from lims.services.samples import sampling
from tests.core.helpers import act, register, submit
from tests.security.races import audit_intact

BRAND_GTIN = "6901234567892"  # the brand whose pork was found positive
OTHER_GTIN = "6920152400050"  # another brand's product
POSITIVE_CLB = {"t": 0.2, "c": 1.0}  # T/C 0.2 below the kit's 0.9 cut-off: clenbuterol suspected


def published_positive(client: TestClient, h: dict[str, dict[str, str]]) -> dict[str, Any]:
    """A pork sample of brand 双汇 whose clenbuterol screening is positive and published."""
    sample = register(client, h["tester"], category_code="PORK", product_name="冷鲜猪肉", brand="双汇", gtin=BRAND_GTIN)
    result = submit(client, h["tester"], sample["label_id"], POSITIVE_CLB, item_code="CLB", kit_lot="CLB-2611A")
    assert result["judgement"] == "positive"
    assert act(client, h["reviewer"], result["id"], "approve", acknowledge_flags=True).status_code == 200
    assert act(client, h["reviewer"], result["id"], "publish").status_code == 200
    return sample


MOVE = {
    "product_name": "冷鲜猪肉",
    "category_code": "PORK",
    "brand": "雨润",
    "gtin": OTHER_GTIN,
    "reason": "录入了错误的条码",
}


def _public_view(client: TestClient, label: str) -> dict[str, Any]:
    """What the public is shown for the label and for both product codes (API trace, EPCIS, page)."""
    by_label = client.get(f"/api/v1/trace/{label}").json()
    brand, other = (client.get(f"/api/v1/trace/{g}") for g in (BRAND_GTIN, OTHER_GTIN))
    epcis = {g: client.get(f"/api/v1/epcis/{g}") for g in (BRAND_GTIN, OTHER_GTIN)}
    pages = {g: client.get(f"/trace/{g}").text for g in (BRAND_GTIN, OTHER_GTIN)}
    return {
        "label_gtin": by_label["sample"]["gtin"],
        "label_brand": by_label["sample"]["brand"],
        "results_under": {
            g: [r["sample_label_id"] for r in (resp.json().get("results") or [])] if resp.status_code == 200 else []
            for g, resp in ((BRAND_GTIN, brand), (OTHER_GTIN, other))
        },
        "epcis_events": {
            g: len(resp.json().get("epcisBody", {}).get("eventList", [])) if resp.status_code == 200 else 0
            for g, resp in epcis.items()
        },
        "page_shows_label": {g: label in page for g, page in pages.items()},
    }


def test_moving_a_published_positive_to_another_brand_waits_for_a_second_reviewer(
    client: TestClient, headers: dict[str, dict[str, str]], engine: Engine
) -> None:
    sample = published_positive(client, headers)
    label = sample["label_id"]
    shown = _public_view(client, label)
    assert shown["label_gtin"] == "0" + BRAND_GTIN and shown["label_brand"] == "双汇"
    assert shown["results_under"] == {BRAND_GTIN: [label], OTHER_GTIN: []}
    assert shown["page_shows_label"] == {BRAND_GTIN: True, OTHER_GTIN: False}
    assert shown["epcis_events"][BRAND_GTIN] == 1 and shown["epcis_events"][OTHER_GTIN] == 0

    asked = client.post(f"/api/v1/samples/{label}/corrections", json=MOVE, headers=headers["tester"])
    assert asked.status_code == 202, asked.text
    body = asked.json()
    assert body["gtin"] == "0" + BRAND_GTIN and body["brand"] == "双汇" and body["version"] == 1
    pending = body["pending_correction"]
    assert pending["version"] == 2 and pending["state"] == "pending" and pending["requested_by"] == "tester"
    assert set(pending["changed"]) == {"brand", "gtin"} and pending["proposed"]["gtin"] == "0" + OTHER_GTIN
    # The public, the tester's sample view and the audit all still show the published version.
    assert _public_view(client, label) == shown
    seen_by_tester = client.get(f"/api/v1/samples/{label}", headers=headers["tester"]).json()
    assert seen_by_tester["gtin"] == "0" + BRAND_GTIN and seen_by_tester["pending_correction"]["version"] == 2
    audit_intact(engine)

    queue = client.get("/api/v1/samples/pending-corrections", headers=headers["reviewer"])
    assert queue.status_code == 200 and [(c["sample_label_id"], c["version"]) for c in queue.json()] == [(label, 2)]
    assert client.get("/api/v1/samples/pending-corrections", headers=headers["tester"]).status_code == 403
    assert client.post(f"/api/v1/samples/{label}/corrections/2/approve", headers=headers["tester"]).status_code == 403

    approved = client.post(f"/api/v1/samples/{label}/corrections/2/approve", headers=headers["reviewer2"])
    assert approved.status_code == 200, approved.text
    assert approved.json()["version"] == 2 and approved.json()["pending_correction"] is None
    after = _public_view(client, label)
    assert after["label_gtin"] == "0" + OTHER_GTIN and after["label_brand"] == "雨润"
    assert after["results_under"] == {BRAND_GTIN: [], OTHER_GTIN: [label]}
    assert after["page_shows_label"] == {BRAND_GTIN: False, OTHER_GTIN: True}
    assert after["epcis_events"] == {BRAND_GTIN: 0, OTHER_GTIN: 1}
    again = client.post(f"/api/v1/samples/{label}/corrections/2/approve", headers=headers["reviewer"])
    assert again.status_code == 409 and "it is approved" in again.json()["detail"]
    versions = client.get(f"/api/v1/samples/{label}/versions", headers=headers["reviewer"]).json()
    assert [(v["version"], v["state"], v["data"]["gtin"]) for v in versions] == [
        (1, "recorded", "0" + BRAND_GTIN),
        (2, "approved", "0" + OTHER_GTIN),
    ]
    assert client.get("/api/v1/samples/pending-corrections", headers=headers["reviewer"]).json() == []
    audit_intact(engine)


def _actor(engine: Engine, name: str, role: str | None = None) -> Actor:
    with Session(engine) as session:
        actor = auth.actor_for(session.exec(select(User).where(User.username == name)).one())
    return Actor(actor.name, role or actor.role, actor.user_id, actor.district_id, actor.station_id)


@pytest.mark.parametrize("who", ["asker", "sample_tester"])
def test_four_eyes_the_asker_and_the_samples_tester_cannot_approve(
    client: TestClient, headers: dict[str, dict[str, str]], engine: Engine, who: str
) -> None:
    sample = published_positive(client, headers)  # registered by `tester`
    asker = "tester" if who == "asker" else "tester2"
    with Session(engine, expire_on_commit=False) as session:
        sampling.correct(session, _actor(engine, asker), sample["label_id"], SampleCorrection(**MOVE))
        session.commit()
    # The same person later given the reviewer role (a role change keeps the user id).
    for name in {asker, "tester"}:
        with Session(engine) as session, pytest.raises(Forbidden, match="four-eyes"):
            sampling.review_correction(session, _actor(engine, name, "reviewer"), sample["label_id"], 2, "approve")
    assert client.get(f"/api/v1/trace/{sample['label_id']}").json()["sample"]["gtin"] == "0" + BRAND_GTIN


def test_a_rejected_correction_never_reaches_the_public(
    client: TestClient, headers: dict[str, dict[str, str]], engine: Engine
) -> None:
    sample = published_positive(client, headers)
    label = sample["label_id"]
    assert client.post(f"/api/v1/samples/{label}/corrections", json=MOVE, headers=headers["tester"]).status_code == 202
    url = f"/api/v1/samples/{label}/corrections/2/reject"
    no_reason = client.post(url, json={"reason": " "}, headers=headers["reviewer"])
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["detail"]
    rejected = client.post(url, json={"reason": "条码与包装照片不符"}, headers=headers["reviewer"])
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["pending_correction"] is None and rejected.json()["gtin"] == "0" + BRAND_GTIN
    assert client.post(url.replace("reject", "approve"), headers=headers["reviewer2"]).status_code == 409
    trace = client.get(f"/api/v1/trace/{label}").json()
    assert trace["sample"]["gtin"] == "0" + BRAND_GTIN and trace["sample"]["brand"] == "双汇"
    versions = client.get(f"/api/v1/samples/{label}/versions", headers=headers["tester"]).json()
    assert [(v["version"], v["state"], v["review_reason"]) for v in versions] == [
        (1, "recorded", ""),
        (2, "rejected", "条码与包装照片不符"),
    ]
    # After a rejection the tester may ask again; the new version gets the next number.
    retry = {**MOVE, "brand": "双汇", "gtin": BRAND_GTIN, "product_name": "冷鲜猪后腿肉"}
    again = client.post(f"/api/v1/samples/{label}/corrections", json=retry, headers=headers["tester"])
    assert again.status_code == 202 and again.json()["pending_correction"]["version"] == 3
    audit_intact(engine)


def test_a_second_pending_correction_is_409_with_the_reason(
    client: TestClient, headers: dict[str, dict[str, str]], engine: Engine
) -> None:
    sample = published_positive(client, headers)
    label = sample["label_id"]
    assert client.post(f"/api/v1/samples/{label}/corrections", json=MOVE, headers=headers["tester"]).status_code == 202
    second = client.post(
        f"/api/v1/samples/{label}/corrections", json={**MOVE, "brand": "金锣"}, headers=headers["tester2"]
    )
    assert second.status_code == 409
    assert "v2 awaiting review" in second.json()["detail"]
    queue = client.get("/api/v1/samples/pending-corrections", headers=headers["reviewer"]).json()
    assert [c["proposed"]["brand"] for c in queue] == ["雨润"]
    audit_intact(engine)


def test_a_sample_with_nothing_published_is_corrected_at_once(client: TestClient, headers: dict) -> None:
    sample = register(client, headers["tester"], gtin=BRAND_GTIN)
    submit(client, headers["tester"], sample["label_id"])  # a result awaiting review is not public
    body = {"product_name": "上海青", "category_code": "VEG_LEAF", "gtin": OTHER_GTIN, "reason": "wrong product"}
    corrected = client.post(f"/api/v1/samples/{sample['label_id']}/corrections", json=body, headers=headers["tester"])
    assert corrected.status_code == 200, corrected.text
    assert corrected.json()["version"] == 2 and corrected.json()["gtin"] == "0" + OTHER_GTIN
    assert corrected.json()["pending_correction"] is None
