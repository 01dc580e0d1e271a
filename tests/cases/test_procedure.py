"""Each path of the legal procedure: art. 88 retest or none, art. 112 inspection, verdicts, late notices,
sale suspension, seal numbers and every disposal kind."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

import pytest
import time_machine
from fastapi.testclient import TestClient

from lims.models.cases import DisposalKind
from tests.cases.helpers import (
    PDF,
    SEAL,
    START,
    ZH,
    cured_meat_case,
    dispose,
    notice,
    post,
    vegetable_case,
    verdict,
)

Headers = dict[str, dict[str, str]]


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_vegetable_window_runs_four_hours_from_receipt_and_no_retest_follows(
    client: TestClient, h: Headers, traveller: time_machine.Coordinates
) -> None:
    case = vegetable_case(client, h)
    assert case["procedure"] == "art88_retest"
    assert case["stage"] == "notice" and case["state"] == "screening_positive"
    assert case["notified_at"] is None and case["retest_deadline"] is None
    # Before the notice is received the party cannot answer, and the window has not started.
    early = post(client, h["station"], case["id"], "acceptance")
    assert early.status_code == 409 and "not received the results notice" in early.json()["detail"]
    traveller.shift(timedelta(hours=3))  # three hours without a notice: still screening positive
    assert client.get(f"/api/v1/cases/{case['id']}", headers=h["station"]).json()["state"] == "screening_positive"
    received = notice(client, h["station"], case["id"])
    assert received.status_code == 200, received.text
    body = received.json()
    assert _at(body["notified_at"]) == START + timedelta(hours=3)
    assert _at(body["retest_deadline"]) == START + timedelta(hours=7)
    assert body["notice_delivery"] == "in_person" and body["notice_recipient"] == "王五"
    assert body["notice_late"] is False and body["stage"] == "awaiting_party"
    assert notice(client, h["station"], case["id"]).status_code == 409  # received once
    traveller.shift(timedelta(hours=4, seconds=1))
    after = client.get(f"/api/v1/cases/{case['id']}", headers=h["station"]).json()
    assert after["state"] == "no_retest" and after["stage"] == "disposal"
    late = post(client, h["station"], case["id"], "retest-request", {"lab": "省食品检验院", "seal_number": SEAL})
    assert late.status_code == 409 and "retest window closed" in late.json()["detail"]
    done = dispose(client, h["station"], case["id"], action="removal")
    assert done.status_code == 200 and done.json()["status"] == "closed"


def test_vegetable_retest_confirmed_then_destroyed(client: TestClient, h: Headers) -> None:
    case = vegetable_case(client, h, seal_number=SEAL, supplier="某某蔬菜批发部")
    assert case["seal_number"] == SEAL
    assert notice(client, h["station"], case["id"]).status_code == 200
    wrong = post(client, h["station"], case["id"], "retest-request", {"lab": "省食品检验院", "seal_number": "FT-9"})
    assert wrong.status_code == 422 and "not the seal" in wrong.json()["detail"]
    asked = post(client, h["station"], case["id"], "retest-request", {"lab": "省食品检验院", "seal_number": SEAL})
    assert asked.status_code == 200, asked.text
    assert asked.json()["state"] == "retest_in_progress" and asked.json()["retest_seal_number"] == SEAL
    assert _at(asked.json()["referral_due"]) == START + timedelta(days=7)
    premature = dispose(client, h["station"], case["id"])
    assert premature.status_code == 409
    found = verdict(client, h["reviewer"], case["id"])
    assert found.status_code == 200, found.text
    body = found.json()
    assert body["state"] == "confirmed" and body["stage"] == "disposal"
    assert (body["verdict_lab"], body["verdict_cma"], body["verdict_value"]) == (
        "省食品药品检验研究院",
        "200012345678",
        0.35,
    )
    report = client.get(f"/api/v1/cases/{case['id']}/files/{body['verdict_report_id']}", headers=h["station"])
    assert report.status_code == 200 and report.content == PDF
    assert report.headers["x-content-sha256"] == hashlib.sha256(PDF).hexdigest()
    done = dispose(client, h["station"], case["id"])
    assert done.status_code == 200, done.text
    closed = done.json()
    assert closed["status"] == "closed" and closed["disposal_action"] == "destruction"
    assert closed["disposal_supplier"] == "某某蔬菜批发部"  # traced from the sample's supplier
    assert closed["disposal_purchase_record"] == "进货单 2026-1201-07" and closed["disposal_witness"] == "赵见证"


def test_retest_not_confirmed_clears_and_closes(client: TestClient, h: Headers) -> None:
    case = vegetable_case(client, h, seal_number=SEAL)
    assert notice(client, h["station"], case["id"]).status_code == 200
    assert (
        post(client, h["reviewer"], case["id"], "retest-request", {"lab": "省检院", "seal_number": SEAL}).status_code
        == 200
    )
    cleared = verdict(client, h["reviewer"], case["id"], outcome="not_confirmed", value="0.02")
    assert cleared.status_code == 200, cleared.text
    assert cleared.json()["state"] == "cleared" and cleared.json()["status"] == "closed"
    assert dispose(client, h["station"], case["id"]).status_code == 409
    assert verdict(client, h["reviewer"], case["id"]).status_code == 409


def test_processed_food_goes_to_inspection_without_a_retest_window(client: TestClient, h: Headers) -> None:
    case = cured_meat_case(client, h)
    assert case["procedure"] == "art112_inspection"
    assert case["stage"] == "referral" and case["state"] == "retest_in_progress"
    assert _at(case["referred_at"]) == START and _at(case["referral_due"]) == START + timedelta(days=7)
    received = notice(client, h["station"], case["id"])
    assert received.status_code == 200 and received.json()["retest_deadline"] is None
    for step, body in (("retest-request", {"lab": "省检院", "seal_number": SEAL}), ("acceptance", None)):
        refused = post(client, h["station"], case["id"], step, body)
        assert refused.status_code == 409 and "art. 112" in refused.json()["detail"]
    confirmed = verdict(client, h["reviewer"], case["id"], analyte="亚硝酸盐", value="42.6", limit="≤ 30 mg/kg")
    assert confirmed.status_code == 200 and confirmed.json()["state"] == "confirmed"
    assert (
        dispose(client, h["station"], case["id"], action="return_recall").json()["disposal_action"] == "return_recall"
    )


def test_a_late_notice_is_flagged_and_the_deadline_still_runs_from_receipt(
    client: TestClient, h: Headers, traveller: time_machine.Coordinates
) -> None:
    case = vegetable_case(client, h)  # opened 20:00 in Shanghai
    before = notice(client, h["station"], case["id"], received_at=(START - timedelta(minutes=1)).isoformat())
    assert before.status_code == 422  # received before the case opened
    traveller.shift(timedelta(hours=5))  # 01:00 the next local day
    late = notice(client, h["station"], case["id"], delivery="electronic", recipient_role="经营者")
    assert late.status_code == 200
    assert late.json()["notice_late"] is True
    assert _at(late.json()["retest_deadline"]) == START + timedelta(hours=9)


def test_a_notice_received_the_same_local_day_and_recorded_later_is_not_late(
    client: TestClient, h: Headers, traveller: time_machine.Coordinates
) -> None:
    case = vegetable_case(client, h)
    traveller.shift(timedelta(hours=5))
    received_at = START + timedelta(hours=3)  # 23:00 in Shanghai, the same local day
    on_time = notice(client, h["station"], case["id"], delivery="left_at_premises", received_at=received_at.isoformat())
    assert on_time.status_code == 200
    assert on_time.json()["notice_late"] is False
    assert _at(on_time.json()["retest_deadline"]) == received_at + timedelta(hours=4)


def test_sale_suspension_is_missing_then_overdue_until_recorded(
    client: TestClient, h: Headers, traveller: time_machine.Coordinates
) -> None:
    case = vegetable_case(client, h)
    assert case["sale_suspension_missing"] is True and case["sale_suspension_overdue"] is False
    traveller.shift(timedelta(minutes=31))
    late = client.get(f"/api/v1/cases/{case['id']}", headers=h["station"]).json()
    assert late["sale_suspension_overdue"] is True and late["overdue"] is True
    done = post(client, h["station"], case["id"], "sale-suspension", {"confirmed_by": "王五（摊主）"})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["sale_suspension_missing"] is False and body["overdue"] is False
    assert _at(body["sale_suspended_at"]) == START + timedelta(minutes=31)
    assert body["sale_suspension_confirmed_by"] == "王五（摊主）"
    again = post(client, h["station"], case["id"], "sale-suspension", {"confirmed_by": "王五"})
    assert again.status_code == 409


def test_seal_added_on_the_positive_is_the_one_a_retest_names(client: TestClient, h: Headers) -> None:
    case = vegetable_case(client, h)
    assert notice(client, h["station"], case["id"]).status_code == 200
    unsealed = post(client, h["station"], case["id"], "retest-request", {"lab": "省检院", "seal_number": SEAL})
    assert unsealed.status_code == 409 and "no seal number" in unsealed.json()["detail"]
    sealed = post(client, h["station"], case["id"], "seal", {"seal_number": SEAL})
    assert sealed.status_code == 200 and sealed.json()["seal_number"] == SEAL
    assert post(client, h["station"], case["id"], "seal", {"seal_number": "FT-2"}).status_code == 409
    asked = post(client, h["station"], case["id"], "retest-request", {"lab": "省检院", "seal_number": SEAL})
    assert asked.status_code == 200


@pytest.mark.parametrize("kind", list(DisposalKind))
def test_each_disposal_kind_is_recorded(client: TestClient, h: Headers, kind: DisposalKind) -> None:
    case = vegetable_case(client, h, supplier="城南批发市场 12 号")
    assert notice(client, h["station"], case["id"]).status_code == 200
    assert post(client, h["station"], case["id"], "acceptance").status_code == 200
    done = dispose(client, h["reviewer"], case["id"], action=kind.value, quantity=3, unit="箱")
    assert done.status_code == 200, done.text
    body = done.json()
    assert (body["disposal_action"], body["disposal_quantity"], body["disposal_unit"]) == (kind.value, 3.0, "箱")
    assert body["disposal_officer"] == "李执法" and body["disposal_acknowledged_by"] == "王五"
    assert body["disposal_supplier"] == "城南批发市场 12 号" and body["status"] == "closed"


def test_nothing_left_to_dispose_needs_a_note(client: TestClient, h: Headers) -> None:
    case = vegetable_case(client, h)
    assert notice(client, h["station"], case["id"]).status_code == 200
    assert post(client, h["station"], case["id"], "acceptance").status_code == 200
    bare = dispose(client, h["station"], case["id"], quantity=0)
    assert bare.status_code == 422 and "quantity of 0 needs a note" in bare.json()["detail"]
    zh = dispose(client, {**h["station"], **ZH}, case["id"], quantity=0)
    assert zh.status_code == 422 and "数量为 0" in zh.json()["detail"]
    noted = dispose(client, h["station"], case["id"], quantity=0, note="检测前已售完")
    assert noted.status_code == 200 and noted.json()["disposal_quantity"] == 0.0
    assert noted.json()["disposal_note"] == "检测前已售完"
