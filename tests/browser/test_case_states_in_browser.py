"""The consumer's page in headless Chromium tells an open positive (初筛阳性) from a cleared one (复检排除)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.browser.conftest import screenshot
from tests.cases.helpers import verdict
from tests.core.helpers import POSITIVE_OPC, act, register, submit

pytestmark = pytest.mark.browser


def _published_positive(client: TestClient, headers: dict[str, dict[str, str]], product: str) -> tuple[str, int]:
    sample = register(client, headers["tester"], product_name=product)
    result = submit(client, headers["tester"], sample["label_id"], POSITIVE_OPC)
    assert act(client, headers["reviewer"], result["id"], "approve").status_code == 200
    assert act(client, headers["reviewer"], result["id"], "publish").status_code == 200
    cases = client.get("/api/v1/cases", headers=headers["reviewer"]).json()
    return sample["label_id"], int(next(c["id"] for c in cases if c["result_id"] == result["id"]))


def test_consumer_page_of_a_cleared_and_an_open_positive(
    new_page: Any, client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    open_label, _open_case = _published_positive(client, headers, "菠菜")
    cleared_label, cleared_case = _published_positive(client, headers, "油麦菜")
    for step, body in (
        ("notice-receipt", {"delivery": "in_person", "recipient": "王五", "recipient_role": "摊主"}),
        ("seal", {"seal_number": "FT-2"}),
        ("retest-request", {"lab": "x市食品检验所", "seal_number": "FT-2"}),
    ):
        response = client.post(f"/api/v1/cases/{cleared_case}/{step}", json=body, headers=headers["reviewer"])
        assert response.status_code == 200, response.text
    response = verdict(client, headers["reviewer"], cleared_case, outcome="not_confirmed")
    assert response.status_code == 200, response.text

    page = new_page()
    page.goto(f"/trace/{cleared_label}")
    result = page.locator(".result")
    assert result.get_attribute("data-case-state") == "cleared"
    assert result.locator(".badge").inner_text() == "复检排除"
    assert "实验室已排除该结果" in result.inner_text()
    assert "快速检测筛查结果" in result.inner_text()  # still said to be a screening
    assert "不是官方食品抽样检验的报告" in page.inner_text("main")
    screenshot(page, "consumer-cleared-positive")

    page.goto(f"/trace/{open_label}")
    result = page.locator(".result")
    assert result.get_attribute("data-case-state") == "screening_positive"
    assert result.locator(".badge").inner_text() == "初筛阳性"
    screenshot(page, "consumer-open-positive")

    english = new_page(locale="en-US")
    english.goto(f"/trace/{cleared_label}")
    assert english.locator(".result .badge").inner_text() == "Cleared by retest"
    assert "the laboratory cleared this result" in english.locator(".result").inner_text()
