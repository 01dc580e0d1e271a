"""The closed loop through the API: register, submit, review, publish, trace; four-eyes; corrections."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.cases.helpers import verdict
from tests.core.helpers import INVALID_OPC, POSITIVE_OPC, act, published_result, register, submit


def test_sample_gets_a_checked_label_id(client: TestClient, headers: dict) -> None:
    sample = register(client, headers["tester"])
    from lims.services.samples.label_ids import label_id_problem

    assert len(sample["label_id"]) == 12
    assert label_id_problem(sample["label_id"]) is None
    second = register(client, headers["tester"])
    assert second["label_id"] != sample["label_id"]


def test_negative_result_walks_to_published_and_is_traceable(client: TestClient, headers: dict) -> None:
    result = published_result(client, headers)
    assert result["status"] == "published"
    assert result["judgement"] == "negative"
    assert abs(result["value"] - 20.0) < 1e-9
    trace = client.get(f"/api/v1/trace/{result['sample_label_id']}")
    assert trace.status_code == 200
    body = trace.json()
    assert body["kind"] == "sample"
    assert [r["judgement"] for r in body["results"]] == ["negative"]
    assert body["results"][0]["meaning_en"].startswith("Negative") and body["results"][0]["meaning_zh"].startswith(
        "阴性"
    )


def test_unpublished_sample_is_not_traceable(client: TestClient, headers: dict) -> None:
    sample = register(client, headers["tester"])
    submit(client, headers["tester"], sample["label_id"])
    response = client.get(f"/api/v1/trace/{sample['label_id']}")
    assert response.status_code == 404
    assert "no published results" in response.json()["detail"]


def test_trace_rejects_garbage_and_unknown_codes(client: TestClient) -> None:
    assert client.get("/api/v1/trace/not a code!").status_code == 422
    assert client.get("/api/v1/trace/XQ2611290015").status_code in (404, 422)
    unknown = client.get("/api/v1/trace/XQ261129999B")
    assert unknown.status_code in (404, 422)
    from datetime import date

    from lims.services.samples.label_ids import make_label_id

    valid_unknown = make_label_id("XQ", date(2020, 1, 1), 1)
    response = client.get(f"/api/v1/trace/{valid_unknown}")
    assert response.status_code == 404
    assert response.json()["detail"]
    wrong_check = valid_unknown[:-1] + ("0" if valid_unknown[-1] != "0" else "1")
    response = client.get(f"/api/v1/trace/{wrong_check}")
    assert response.status_code == 422
    assert "check character" in response.json()["detail"]


def test_tester_cannot_review_own_result_even_with_reviewer_token_of_self(client: TestClient, headers: dict) -> None:
    sample = register(client, headers["tester"])
    result = submit(client, headers["tester"], sample["label_id"])
    response = act(client, headers["tester"], result["id"], "approve")
    assert response.status_code == 403


def test_positive_opens_a_case_with_four_hour_window(client: TestClient, headers: dict) -> None:
    from datetime import datetime

    sample = register(client, headers["tester"], seal_number="FT-1")
    result = submit(client, headers["tester"], sample["label_id"], POSITIVE_OPC)
    assert result["judgement"] == "positive"
    assert act(client, headers["reviewer"], result["id"], "approve").status_code == 200
    cases = client.get("/api/v1/cases", headers=headers["reviewer"]).json()
    assert len(cases) == 1
    case = cases[0]
    assert case["stage"] == "notice" and case["retest_deadline"] is None  # the window starts at receipt
    station = headers["station"]  # ST04 runs P05, where the sample was taken
    receipt = {"delivery": "in_person", "recipient": "王五", "recipient_role": "摊主"}
    r = client.post(f"/api/v1/cases/{case['id']}/notice-receipt", json=receipt, headers=station)
    assert r.status_code == 200, r.text
    window = datetime.fromisoformat(r.json()["retest_deadline"]) - datetime.fromisoformat(r.json()["notified_at"])
    assert window.total_seconds() == 4 * 3600 and r.json()["stage"] == "awaiting_party"
    # The party asks for a retest; the lab confirms; the goods are destroyed.
    body = {"lab": "x市食品检验所", "seal_number": "FT-1"}
    r = client.post(f"/api/v1/cases/{case['id']}/retest-request", json=body, headers=station)
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "referral"
    premature = client.post(
        f"/api/v1/cases/{case['id']}/disposal", json={"action": "removal", "quantity": 12.5}, headers=station
    )
    assert premature.status_code == 409
    r = verdict(client, headers["reviewer"], case["id"], lab="x市食品检验所")
    assert r.status_code == 200, r.text
    assert r.json()["stage"] == "disposal"
    r = client.post(
        f"/api/v1/cases/{case['id']}/disposal",
        json={"action": "destruction", "quantity": 12.5, "unit": "kg"},
        headers=station,
    )
    assert r.status_code == 200
    assert r.json()["status"] == "closed"
    assert r.json()["disposal_quantity"] == 12.5
    other_station = client.get(f"/api/v1/cases/{case['id']}", headers=headers["station_other"])
    assert other_station.status_code == 404


def test_rejection_asks_for_retest_linked_to_rejected_result(client: TestClient, headers: dict) -> None:
    sample = register(client, headers["tester"])
    result = submit(client, headers["tester"], sample["label_id"], INVALID_OPC)
    assert result["judgement"] == "invalid"
    no_reason = act(client, headers["reviewer"], result["id"], "reject")
    assert no_reason.status_code == 422
    rejected = act(client, headers["reviewer"], result["id"], "reject", reason="control too weak; retest")
    assert rejected.json()["status"] == "rejected"
    retest = submit(client, headers["tester"], sample["label_id"])
    assert retest["supersedes_id"] == result["id"]
    assert retest["version"] == 2


def test_correction_keeps_both_versions(client: TestClient, headers: dict) -> None:
    sample = register(client, headers["tester"])
    result = submit(client, headers["tester"], sample["label_id"], POSITIVE_OPC, repeat=False)
    assert result["repeat_state"] == "pending" and result["reason_code"] == "repeat_required"
    corrected = client.post(
        f"/api/v1/results/{result['id']}/corrections",
        json={"raw": {"control_dA": 0.6, "sample_dA": 0.5}, "reason": "typed the wrong channel"},
        headers=headers["tester"],
    )
    assert corrected.status_code == 201, corrected.text
    new = corrected.json()
    assert new["supersedes_id"] == result["id"] and new["judgement"] == "negative"
    old = client.get(f"/api/v1/results/{result['id']}", headers=headers["reviewer"]).json()
    assert old["status"] == "superseded" and old["judgement"] == "positive"
    # The superseded version can no longer be approved.
    assert act(client, headers["reviewer"], result["id"], "approve").status_code == 409


def test_sample_correction_is_a_new_version(client: TestClient, headers: dict) -> None:
    sample = register(client, headers["tester"])
    body = {"product_name": "上海青", "category_code": "VEG_LEAF", "reason": "wrong product name"}
    r = client.post(f"/api/v1/samples/{sample['label_id']}/corrections", json=body, headers=headers["tester"])
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2
    versions = client.get(f"/api/v1/samples/{sample['label_id']}/versions", headers=headers["reviewer"]).json()
    assert [v["data"]["product_name"] for v in versions] == ["小白菜", "上海青"]


def test_nothing_can_be_deleted(client: TestClient, headers: dict) -> None:
    sample = register(client, headers["tester"])
    result = submit(client, headers["tester"], sample["label_id"])
    for path in (f"/api/v1/samples/{sample['label_id']}", f"/api/v1/results/{result['id']}"):
        assert client.delete(path, headers=headers["admin"]).status_code == 405


def test_expired_kit_lot_makes_the_result_invalid(client: TestClient, headers: dict) -> None:
    sample = register(client, headers["tester"], category_code="PORK", product_name="猪肉")
    body = {
        "sample_label_id": sample["label_id"],
        "item_code": "CLB",
        "raw": {"t": 1.0, "c": 1.0},
        "kit_lot": "CLB-2505X",
    }
    r = client.post("/api/v1/results", json=body, headers=headers["tester"])
    assert r.status_code == 201, r.text
    result = r.json()
    # T/C 1.0 would be negative against the lot's 0.90, but the lot expired on 2026-05-31
    assert result["judgement"] == "invalid" and result["reason_code"] == "kit_lot_expired"
    assert result["raw"]["details"]["judged_before_invalid"] == "negative"
    assert result["flags"] == []


def test_flags_must_be_acknowledged(client: TestClient, headers: dict, engine: Any) -> None:
    from sqlmodel import Session, select

    from lims.models import TestItem

    with Session(engine) as session:  # the method's interfering vegetables (reference data)
        opc = session.exec(select(TestItem).where(TestItem.code == "OPC")).one()
        opc.method = {**opc.method, "interfering_species": ["葱", "蒜", "韭菜"]}
        session.add(opc)
        session.commit()
    sample = register(client, headers["tester"], category_code="VEG", product_name="韭菜（散装）")
    result = submit(client, headers["tester"], sample["label_id"])
    assert result["flags"] == ["interfering_species"]
    refused = act(client, headers["reviewer"], result["id"], "approve")
    assert refused.status_code == 409 and "acknowledge" in refused.json()["detail"]
    ok = act(client, headers["reviewer"], result["id"], "approve", acknowledge_flags=True)
    assert ok.status_code == 200


def test_bad_raw_data_gets_a_reason(client: TestClient, headers: dict) -> None:
    sample = register(client, headers["tester"])
    r = client.post(
        "/api/v1/results",
        json={"sample_label_id": sample["label_id"], "item_code": "OPC", "raw": {"t": 1.0}},
        headers=headers["tester"],
    )
    assert r.status_code == 422 and "control_dA" in r.json()["detail"]
    r = client.post(
        "/api/v1/results",
        json={
            "sample_label_id": sample["label_id"],
            "item_code": "NO2",
            "raw": {"absorbance": 0.1, "blank": 0, "dilution": 1, "mass_g": 5},
        },
        headers=headers["tester"],
    )
    assert r.status_code == 422 and "not tested on VEG_LEAF" in r.json()["detail"]


def test_station_sees_published_results_only(client: TestClient, headers: dict) -> None:
    published = published_result(client, headers)
    pending_sample = register(client, headers["tester"])
    pending = submit(client, headers["tester"], pending_sample["label_id"])
    seen = client.get("/api/v1/results", headers=headers["station"]).json()
    ids = {r["id"] for r in seen}
    assert published["id"] in ids and pending["id"] not in ids
    assert client.get(f"/api/v1/results/{pending['id']}", headers=headers["station"]).status_code == 404
    assert client.get("/api/v1/results").status_code == 401
