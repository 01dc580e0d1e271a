"""The reviewer reads every judgement's reason in the page's language, rendered from the stored code."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from lims.i18n import judgement_reason
from tests.core.helpers import register
from tests.web.helpers import sign_in

CASES = [  # (item, category, raw, reason code, a Chinese phrase of that reason)
    ("OPC", "VEG_LEAF", {"control_dA": 0.60, "sample_dA": 0.48}, "inhibition_below_threshold", "低于判定值"),
    # a positive waits for the repeats its method asks; the first run's reason is shown within, in the same language
    ("OPC", "VEG_LEAF", {"control_dA": 0.60, "sample_dA": 0.18}, "repeat_required", "疑似阳性"),
    ("OPC", "VEG_LEAF", {"control_dA": 0.20, "sample_dA": 0.10}, "control_dA_too_small", "请检查酶和底物"),
    ("OPC", "VEG_LEAF", {"control_dA": 0.40, "sample_dA": 0.50}, "inhibition_negative", "样品反应快于对照"),
    ("CLB", "PORK", {"t": 0.95, "c": 1.0}, "tc_at_or_above_cutoff", "不低于试剂盒判定值"),
    ("CLB", "PORK", {"t": 0.40, "c": 1.0}, "tc_below_cutoff", "竞争法"),
    ("CLB", "PORK", {"t": 0.40, "c": 0.1}, "no_c_line", "质控线"),
    ("NO2", "CURED_MEAT", {"absorbance": 0.1, "blank": 0.0, "dilution": 1, "mass_g": 5}, "within_limit", "未超过限量"),
    ("NO2", "CURED_MEAT", {"absorbance": 0.4, "blank": 0.0, "dilution": 1, "mass_g": 2}, "above_limit", "超过限量"),
    ("NO2", "CURED_MEAT", {"absorbance": 1.3, "blank": 0.0, "dilution": 1, "mass_g": 5}, "above_range_dilute", "稀释"),
    ("NO2", "CURED_MEAT", {"absorbance": 0.01, "blank": 0.0, "dilution": 1, "mass_g": 5}, "not_detected", "低于检出限"),
    (
        "HCHO",
        "SOAKED_AQUATIC",
        {"absorbance": 0.1, "blank": 0.0, "dilution": 1, "mass_g": 5},
        "banned_detected",
        "不得在食品中检出",
    ),
]


@pytest.mark.parametrize(("item", "category", "raw", "code", "phrase"), CASES, ids=[c[3] for c in CASES])
def test_review_page_shows_the_reason_in_the_readers_language(
    app: Any,
    client: TestClient,
    headers: dict[str, dict[str, str]],
    item: str,
    category: str,
    raw: dict[str, float],
    code: str,
    phrase: str,
) -> None:
    sample = register(client, headers["tester"], product_name="样品", category_code=category)
    body: dict[str, Any] = {"sample_label_id": sample["label_id"], "item_code": item, "raw": raw}
    if item == "CLB":
        body["kit_lot"] = "CLB-2611A"  # a card result is judged against its kit lot's cut-off
    response = client.post("/api/v1/results", json=body, headers=headers["tester"])
    assert response.status_code == 201, response.text
    result = response.json()
    assert result["reason_code"] == code
    chinese = judgement_reason(code, result["reason_params"], "zh")
    assert phrase in chinese and chinese != result["reason"]
    reviewer = sign_in(app, "reviewer")
    page = reviewer.get("/review")
    assert str(escape(chinese)) in page.text  # the Chinese page shows the Chinese reason
    assert result["reason"].split(":")[0] + ":" not in page.text.split(f'id="result-{result["id"]}"')[1][:3000]
    english = reviewer.get("/review?lang=en")
    assert str(escape(judgement_reason(code, result["reason_params"], "en"))) in english.text
