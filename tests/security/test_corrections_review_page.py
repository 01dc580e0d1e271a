"""The review page shows corrections of published samples beside what the public sees, to approve or reject."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.security.test_corrections_published import BRAND_GTIN, MOVE, OTHER_GTIN, published_positive
from tests.web.helpers import post_form, sign_in


def test_reviewer_decides_a_correction_on_the_review_page(
    app: Any, client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    label = published_positive(client, headers)["label_id"]
    assert client.post(f"/api/v1/samples/{label}/corrections", json=MOVE, headers=headers["tester"]).status_code == 202
    reviewer = sign_in(app, "reviewer2")
    page = reviewer.get("/review?lang=en")
    assert page.status_code == 200
    assert f'id="correction-{label}-2"' in page.text and "Sample corrections to review (1)" in page.text
    # What the public sees now beside what would replace it, only for the fields that change.
    assert "双汇" in page.text and "雨润" in page.text and "0" + OTHER_GTIN in page.text
    assert MOVE["reason"] in page.text and "Production date" not in page.text

    action = f"/review/corrections/{label}/2"
    no_reason = post_form(reviewer, "/review", f"{action}/reject", {"reason": ""})
    assert no_reason.status_code == 422 and "a rejection needs a reason" in no_reason.text
    approved = post_form(reviewer, "/review", f"{action}/approve")
    assert approved.status_code == 303
    assert approved.headers["location"] == "/review?done=correction_approved#corrections"
    assert "No sample correction awaits review" in reviewer.get("/review?lang=en").text
    assert client.get(f"/api/v1/trace/{label}").json()["sample"]["gtin"] == "0" + OTHER_GTIN
    again = post_form(reviewer, "/review", f"{action}/approve")
    assert again.status_code == 409 and "it is approved" in again.text
    assert client.get(f"/api/v1/trace/{BRAND_GTIN}").status_code == 404


def test_the_tester_sees_the_correction_waiting_on_the_vehicle_page(
    app: Any, client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    label = published_positive(client, headers)["label_id"]
    assert client.post(f"/api/v1/samples/{label}/corrections", json=MOVE, headers=headers["tester"]).status_code == 202
    page = sign_in(app, "tester").get("/vehicle?lang=en").text
    marked = '<span class="small" data-pending-correction>(correction awaiting review)</span>'
    card = re.search(rf'<li class="sample-card" data-sample="{label}">(.*?)</li>', page, re.S)
    assert card and "冷鲜猪肉" in card.group(1) and marked in card.group(1)
