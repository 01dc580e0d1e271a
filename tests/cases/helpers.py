"""Helpers for case tests: a frozen clock, a positive of each procedure, each step through the API."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi.testclient import TestClient

from barcodes.hostile import small_png
from tests.core.helpers import POSITIVE_OPC, act, register, submit

# 20:00 in Shanghai on a Thursday (a market's evening); every case test starts here with the clock stopped.
START = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
# Nitrite in cured meat: 0.4 / 0.47 mg/L per absorbance × 100 mL / 2 g = 42.6 mg/kg, over the 30 mg/kg limit.
POSITIVE_NO2 = {"absorbance": 0.4, "blank": 0.0, "dilution": 1, "mass_g": 2}
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PHOTO = small_png()
SEAL = "FT-2026-000123"
VERDICT = {
    "lab": "省食品药品检验研究院",
    "cma": "200012345678",
    "report_number": "WT2026-1203-01",
    "method": "GB 23200.121-2026 (LC-MS/MS)",
    "analyte": "毒死蜱",
    "value": "0.35",
    "unit": "mg/kg",
    "limit": "≤ 0.1 mg/kg",
    "clause": "GB 2763-2026 毒死蜱 叶菜类蔬菜",
    "outcome": "confirmed",
}
ZH = {"Accept-Language": "zh-CN"}


def vegetable_case(client: TestClient, h: dict[str, dict[str, str]], **sample: Any) -> dict[str, Any]:
    """A case on an edible agricultural product (leafy vegetables at P05, station ST04's point)."""
    created = register(client, h["tester"], **sample)
    result = submit(client, h["tester"], created["label_id"], POSITIVE_OPC)
    assert act(client, h["reviewer"], result["id"], "approve").status_code == 200
    return case_of(client, h, result["id"])


def cured_meat_case(client: TestClient, h: dict[str, dict[str, str]], **sample: Any) -> dict[str, Any]:
    """A case on a processed food: nitrite in cured meat above 30 mg/kg."""
    created = register(client, h["tester"], product_name="腊肉", category_code="CURED_MEAT", **sample)
    body = {"sample_label_id": created["label_id"], "item_code": "NO2", "raw": POSITIVE_NO2}
    response = client.post("/api/v1/results", json=body, headers=h["tester"])
    assert response.status_code == 201, response.text
    assert response.json()["judgement"] == "positive"
    assert act(client, h["reviewer"], response.json()["id"], "approve").status_code == 200
    return case_of(client, h, response.json()["id"])


def case_of(client: TestClient, h: dict[str, dict[str, str]], result_id: int) -> dict[str, Any]:
    """The case opened for a result."""
    found = [c for c in client.get("/api/v1/cases", headers=h["reviewer"]).json() if c["result_id"] == result_id]
    assert len(found) == 1
    return dict(found[0])


def post(client: TestClient, headers: dict[str, str], case_id: int, step: str, body: Any = None) -> Any:
    """POST a JSON step of a case."""
    return client.post(f"/api/v1/cases/{case_id}/{step}", json=body, headers=headers)


def notice(client: TestClient, headers: dict[str, str], case_id: int, **overrides: Any) -> Any:
    """Record the notice's receipt (in person, by the stall's keeper unless told otherwise)."""
    body = {"delivery": "in_person", "recipient": "王五", "recipient_role": "摊主", **overrides}
    return post(client, headers, case_id, "notice-receipt", body)


def verdict(client: TestClient, headers: dict[str, str], case_id: int, report: bytes = PDF, **overrides: Any) -> Any:
    """POST the lab's verdict with its report."""
    return client.post(
        f"/api/v1/cases/{case_id}/verdict",
        data={**VERDICT, **overrides},
        files={"report": ("report.pdf", report, "application/pdf")},
        headers=headers,
    )


def dispose(client: TestClient, headers: dict[str, str], case_id: int, **overrides: Any) -> Any:
    """POST a disposal (destruction of 12.5 kg unless told otherwise)."""
    body = {
        "action": "destruction",
        "quantity": 12.5,
        "unit": "kg",
        "officer": "李执法",
        "witness": "赵见证",
        "acknowledged_by": "王五",
        "purchase_record": "进货单 2026-1201-07",
        **overrides,
    }
    return post(client, headers, case_id, "disposal", body)
