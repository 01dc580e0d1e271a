"""GET /api/v1/trace/{code} for product codes: GTINs in any form, GS1 element strings, Digital Link URLs."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from lims.services.core.audit import SYSTEM
from lims.services.reference import registry
from tests.core.helpers import act, register, submit

KANG = "6920152400012"  # 康师傅 红烧牛肉面 in the shipped sample catalogue


def _samples_loaded(engine: Engine) -> None:
    with Session(engine) as session:
        registry.load_samples(session, SYSTEM)
        session.commit()


def test_registered_product_without_results(client: TestClient, engine: Engine) -> None:
    _samples_loaded(engine)
    body = client.get(f"/api/v1/trace/{KANG}").json()
    assert body["product"]["brand"] == "康师傅" and body["gtin"] == "0" + KANG
    codes = {f["code"] for f in body["findings"]}
    assert {"code_valid", "product_registered", "mark_registered"} <= codes
    assert body["results"] == []
    valid = next(f for f in body["findings"] if f["code"] == "code_valid")  # both languages, for API clients
    assert valid["message_zh"] == "条码校验通过（商品条码）。" and valid["message_en"] == "The code is valid (GTIN)."
    assert body["notice_zh"].startswith("快速检测为筛查方法") and body["notice_en"].startswith("Quick tests")


def test_unknown_valid_gtin_is_404_with_findings(client: TestClient) -> None:
    response = client.get("/api/v1/trace/6901234567892")
    assert response.status_code == 404
    assert {f["code"] for f in response.json()["findings"]} >= {"code_valid", "product_unknown"}


def test_bad_check_digit_is_422_with_the_reason(client: TestClient) -> None:
    response = client.get("/api/v1/trace/6901234567891")
    assert response.status_code == 422
    assert "check digit" in response.json()["detail"]
    assert response.json()["reason_zh"] == "校验码错误：应为2，实际为1"


def test_all_forms_of_a_product_code_find_its_published_results(
    client: TestClient, headers: dict, engine: Engine
) -> None:
    _samples_loaded(engine)
    sample = register(
        client,
        headers["tester"],
        product_name="红烧牛肉面",
        category_code="NOODLES",
        gtin=KANG,
        brand="康师傅",
        batch="LOT42",
    )
    body = {
        "sample_label_id": sample["label_id"],
        "item_code": "BORAX",
        "raw": {"absorbance": 0.02, "blank": 0.01, "dilution": 1, "mass_g": 5},
    }
    result = client.post("/api/v1/results", json=body, headers=headers["tester"]).json()
    assert act(client, headers["reviewer"], result["id"], "approve").status_code == 200
    assert act(client, headers["reviewer"], result["id"], "publish").status_code == 200
    for code in (
        KANG,
        "0" + KANG,
        f"(01)0{KANG}(10)LOT42",
        f"01 0{KANG} 10LOT42".replace(" ", ""),
        f"https://id.gs1.org/01/0{KANG}/10/LOT42",
    ):
        response = client.get(f"/api/v1/trace/{code}")
        assert response.status_code == 200, (code, response.text)
        traced = response.json()
        assert [r["sample_label_id"] for r in traced["results"]] == [sample["label_id"]], code
    assert client.get(f"/api/v1/trace/(01)0{KANG}(10)LOT42").json()["lot"] == "LOT42"


def test_unpublished_results_stay_hidden_behind_a_gtin(client: TestClient, headers: dict) -> None:
    sample = register(client, headers["tester"], gtin="6901234567892")
    submit(client, headers["tester"], sample["label_id"])
    assert client.get("/api/v1/trace/6901234567892").status_code == 404


def test_epcis_export_of_a_lot(client: TestClient, headers: dict, engine: Engine) -> None:
    _samples_loaded(engine)
    sample = register(
        client,
        headers["tester"],
        product_name="红烧牛肉面",
        category_code="NOODLES",
        gtin=KANG,
        brand="康师傅",
        batch="LOT42",
    )
    body = {
        "sample_label_id": sample["label_id"],
        "item_code": "BORAX",
        "raw": {"absorbance": 0.02, "blank": 0.01, "dilution": 1, "mass_g": 5},
    }
    result = client.post("/api/v1/results", json=body, headers=headers["tester"]).json()
    act(client, headers["reviewer"], result["id"], "approve")
    act(client, headers["reviewer"], result["id"], "publish")
    response = client.get(f"/api/v1/epcis/(01)0{KANG}(10)LOT42")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/ld+json")
    document = response.json()
    assert document["type"] == "EPCISDocument"
    events = document["epcisBody"]["eventList"]
    assert len(events) == 1 and events[0]["type"] == "ObjectEvent"
    assert events[0]["bizStep"] in ("inspecting", "urn:epcglobal:cbv:bizstep:inspecting")
    assert "LOT42" in str(events[0]) and "sensorElementList" in events[0]
    assert client.get(f"/api/v1/epcis/(01)0{KANG}(10)OTHERLOT").json()["epcisBody"]["eventList"] == []
    assert client.get("/api/v1/epcis/6901234567891").status_code == 422
