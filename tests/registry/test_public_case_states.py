"""What the public and other systems are told of a positive as its case runs, and of every result's screening.

Cases are walked through the procedure's own API; trace JSON, the consumer page, the station's shared results
and the EPCIS export must all tell the same state, and every EPCIS document must be valid against GS1's schema.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from lims.judgement.detection import detection_limit
from lims.services.core.audit import SYSTEM
from lims.services.public import states
from lims.services.reference import registry
from tests.barcodes.epcis_schema import problems
from tests.cases.helpers import verdict
from tests.core.helpers import NEGATIVE_OPC, POSITIVE_OPC, act, register, submit
from tests.web.helpers import sign_in

KANG = "6920152400012"  # 康师傅 红烧牛肉面 in the shipped sample catalogue
NAMES_ZH = {
    "screening_positive": "初筛阳性",
    "retest_in_progress": "复检中",
    "confirmed": "确认不合格",
    "cleared": "复检排除",
    "no_retest": "未申请复检",
}
# The steps (API path under the case, JSON body) that bring a freshly opened case to each public state; a
# verdict is a reviewer's form with the lab's report attached.
RETEST = [
    ("notice-receipt", {"delivery": "in_person", "recipient": "王五", "recipient_role": "摊主"}),
    ("seal", {"seal_number": "FT-1"}),
    ("retest-request", {"lab": "x市食品检验所", "seal_number": "FT-1"}),
]
STEPS: dict[str, list[tuple[str, dict[str, Any] | None]]] = {
    "screening_positive": [],
    "retest_in_progress": RETEST,
    "confirmed": [*RETEST, ("verdict", {"outcome": "confirmed"})],
    "cleared": [*RETEST, ("verdict", {"outcome": "not_confirmed"})],
    "no_retest": [RETEST[0], ("acceptance", None)],
}


def _published(client: TestClient, h: dict[str, dict[str, str]], raw: dict[str, float], **sample: Any) -> dict:
    created = register(client, h["tester"], **sample)
    result = submit(client, h["tester"], created["label_id"], raw)
    assert act(client, h["reviewer"], result["id"], "approve").status_code == 200
    assert act(client, h["reviewer"], result["id"], "publish").status_code == 200
    return {"label_id": created["label_id"], "result_id": result["id"]}


def _case_of(client: TestClient, h: dict[str, dict[str, str]], result_id: int) -> int:
    cases = client.get("/api/v1/cases", headers=h["reviewer"]).json()
    return int(next(c["id"] for c in cases if c["result_id"] == result_id))


def _positive_in(client: TestClient, h: dict[str, dict[str, str]], state: str, **sample: Any) -> dict:
    published = _published(client, h, POSITIVE_OPC, **sample)
    case_id = _case_of(client, h, published["result_id"])
    for step, body in STEPS[state]:
        if step == "verdict":
            response = verdict(client, h["reviewer"], case_id, **(body or {}))
        else:
            response = client.post(f"/api/v1/cases/{case_id}/{step}", json=body, headers=h["reviewer"])
        assert response.status_code == 200, response.text
    return {**published, "case_id": case_id}


def _valid(document: dict) -> dict:
    assert problems(document) == []
    return document


@pytest.mark.parametrize("state", list(STEPS))
def test_each_case_state_reaches_the_trace_api_and_a_valid_epcis_event(
    client: TestClient, headers: dict, state: str
) -> None:
    positive = _positive_in(client, headers, state)
    body = client.get(f"/api/v1/trace/{positive['label_id']}").json()
    (result,) = body["results"]
    assert result["judgement"] == "positive" and result["case_state"] == state
    assert result["case_state_zh"] == NAMES_ZH[state]
    assert result["meaning_zh"] == result["case_meaning_zh"] != ""
    document = _valid(client.get(f"/api/v1/epcis/{positive['label_id']}").json())
    (event,) = document["epcisBody"]["eventList"]
    assert event["ext:caseState"] == state and "disposition" not in event
    (report,) = event["sensorElementList"][0]["sensorReport"]
    assert report["type"] == "Dimensionless" and report["uom"] == "P1"  # inhibition rate in %
    assert report["booleanValue"] is True and report["ext:screening"] is True


def test_a_cleared_result_says_the_lab_cleared_it(client: TestClient, headers: dict) -> None:
    cleared = _positive_in(client, headers, "cleared")
    english = client.get(f"/api/v1/trace/{cleared['label_id']}").json()["results"][0]
    assert english["case_state_en"] == "Cleared by retest"
    assert "the laboratory cleared this result" in english["meaning_en"]
    assert "Suspected positive" not in english["meaning_en"]
    page = client.get(f"/trace/{cleared['label_id']}")
    assert page.status_code == 200
    assert 'data-case-state="cleared"' in page.text and "复检排除" in page.text
    assert "实验室已排除该结果" in page.text


def test_an_open_positive_shows_screening_positive(client: TestClient, headers: dict) -> None:
    open_case = _positive_in(client, headers, "screening_positive")
    page = client.get(f"/trace/{open_case['label_id']}")
    assert 'data-case-state="screening_positive"' in page.text and "初筛阳性" in page.text
    assert "复检排除" not in page.text.split("case-states")[0]  # the state list explains it, the result does not say it


def test_every_public_result_says_it_is_a_screening_with_its_detection_limit(client: TestClient, headers: dict) -> None:
    negative = _published(client, headers, NEGATIVE_OPC)
    (result,) = client.get(f"/api/v1/trace/{negative['label_id']}").json()["results"]
    assert result["case_state"] is None and result["screening"] is True
    # OPC is judged on an inhibition rate; its method names no detection limit, and the public is told so.
    assert result["detection_limit"] is None
    assert result["screening_en"].startswith("Quick-test screening result, not an official sampling inspection")
    page = client.get(f"/trace/{negative['label_id']}")
    assert "快速检测筛查结果" in page.text and "不是官方食品抽样检验的报告" in page.text
    document = _valid(client.get(f"/api/v1/epcis/{negative['label_id']}").json())
    (event,) = document["epcisBody"]["eventList"]
    assert "ext:caseState" not in event
    assert event["sensorElementList"][0]["sensorReport"][0]["booleanValue"] is False


def test_detection_limit_from_the_judgement_else_the_method() -> None:
    raw = {"details": {"detection_limit": 0.25, "detection_limit_unit": "µg/kg"}}
    assert detection_limit(raw, {"detection_limit": 0.5}, "µg/kg") == (0.25, "µg/kg")
    assert detection_limit({"details": {}}, {"detection_limit": 5.0}, "mg/kg") == (5.0, "mg/kg")
    assert detection_limit({"details": {"detection_limit": "bad"}}, {}, "%") == (None, "")
    assert states.screening_statement(5.0, "mg/kg", "en").endswith("detection limit 5 mg/kg")
    assert states.screening_statement(0.5, "µg/kg", "zh").endswith("检出限 0.5 µg/kg")


def test_spectro_result_carries_the_method_detection_limit_in_trace_and_epcis(
    client: TestClient, headers: dict, engine: Engine
) -> None:
    with Session(engine) as session:
        registry.load_samples(session, SYSTEM)
        session.commit()
    sample = register(
        client, headers["tester"], product_name="红烧牛肉面", category_code="NOODLES", gtin=KANG, batch="LOT42"
    )
    body = {
        "sample_label_id": sample["label_id"],
        "item_code": "BORAX",
        "raw": {"absorbance": 0.02, "blank": 0.01, "dilution": 1, "mass_g": 5},
    }
    result = client.post("/api/v1/results", json=body, headers=headers["tester"]).json()
    act(client, headers["reviewer"], result["id"], "approve")
    act(client, headers["reviewer"], result["id"], "publish")
    (traced,) = client.get(f"/api/v1/trace/{sample['label_id']}").json()["results"]
    assert traced["detection_limit"] is not None and traced["detection_limit_unit"] == "mg/kg"
    for code in (sample["label_id"], KANG, f"(01)0{KANG}(10)LOT42"):  # sample, product, lot
        document = _valid(client.get(f"/api/v1/epcis/{code}").json())
        (event,) = document["epcisBody"]["eventList"]
        report = event["sensorElementList"][0]["sensorReport"][0]
        assert report["type"] == "Dimensionless" and report["ext:detectionLimit"] == traced["detection_limit"]
        if traced["value"] is not None:
            assert report["uom"] == "NA"  # mg/kg


def test_station_shared_results_show_the_case_state(client: TestClient, headers: dict, app: Any) -> None:
    cleared = _positive_in(client, headers, "cleared")
    pending = _positive_in(client, headers, "retest_in_progress")
    page = sign_in(app, "station").get("/station")
    assert page.status_code == 200
    row = page.text.split(f'data-result="{cleared["result_id"]}"')[1].split("</tr>")[0]
    assert "复检排除" in row
    row = page.text.split(f'data-result="{pending["result_id"]}"')[1].split("</tr>")[0]
    assert "复检中" in row


def test_a_gold_result_shows_its_kit_lots_detection_limit_for_the_matrix_and_the_reported_value(
    app: Any, client: TestClient, headers: dict
) -> None:
    # Aflatoxin B1 lot AFB1-2609C on rice: cut-off T/C 0.72, detection limit 2.5 µg/kg (wheat would be 1.5).
    sample = register(client, headers["tester"], product_name="大米", category_code="RICE")
    raw = {"t": 0.8123, "c": 1.0}  # T/C 0.8123 ≥ 0.72: negative, reported to two decimals as 0.81
    result = submit(client, headers["tester"], sample["label_id"], raw, item_code="AFB1", kit_lot="AFB1-2609C")
    assert result["judgement"] == "negative" and result["value"] == pytest.approx(0.8123)
    review = sign_in(app, "reviewer").get("/review").text.split(f'id="result-{result["id"]}"')[1][:3000]
    assert "0.81 T/C" in review and "0.8123 T/C" not in review  # the reviewer reads the reported value too
    assert act(client, headers["reviewer"], result["id"], "approve").status_code == 200
    assert act(client, headers["reviewer"], result["id"], "publish").status_code == 200
    (traced,) = client.get(f"/api/v1/trace/{sample['label_id']}").json()["results"]
    assert traced["detection_limit"] == 2.5 and traced["detection_limit_unit"] == "µg/kg"
    assert traced["reported_value"] == "0.81" and traced["value"] == pytest.approx(0.8123)
    page = client.get(f"/trace/{sample['label_id']}").text
    # the consumer sees the judgement alone: a T/C ratio beside a limit in µg/kg would read as an amount
    assert "T/C" not in page and "0.81" not in page and "检出限 2.5 µg/kg" in page
