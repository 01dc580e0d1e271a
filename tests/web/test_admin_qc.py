"""The quality-control pages: today's controls per item and kit lot with what they hold, a control recorded by hand
(refused figures shown next to the field, typed values kept), a lot's control history, method verification."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from lims.models import KitLot
from tests.core.helpers import act, register
from tests.lab.test_qc import CLB_LOT, GOLD_NEGATIVE, GOLD_POSITIVE, control, gold_result, result
from tests.security.accounts_helpers import second_district
from tests.web.helpers import post_form, sign_in

Headers = dict[str, dict[str, str]]


@pytest.fixture
def admin(app: Any) -> TestClient:
    return sign_in(app, "admin")


def _lot_id(session: Session, code: str = CLB_LOT) -> int:
    return int(session.exec(select(KitLot).where(KitLot.lot == code)).first().id or 0)  # type: ignore[union-attr]


def _row(html: str, lot: str = CLB_LOT) -> str:
    match = re.search(rf'<li class="qc-row" data-item="CLB" data-lot="{lot}">(.*?)</li>', html, re.S)
    assert match, html[:2000]
    return match.group(1)


def test_a_failed_control_shows_the_held_count_and_a_passing_one_recorded_on_the_page_releases_them(
    admin: TestClient, client: TestClient, headers: Headers, session: Session
) -> None:
    h = headers
    held = [gold_result(client, h), gold_result(client, h, GOLD_POSITIVE)]
    control(client, h, "negative", GOLD_NEGATIVE)
    control(client, h, "positive", GOLD_NEGATIVE)  # the positive card read negative: the lot fails
    page = admin.get("/admin/qc?lang=en")
    assert page.status_code == 200
    row = _row(page.text)
    assert 'data-held="2"' in row and "A control failed" in row
    assert f'href="/admin/qc/lots/{_lot_id(session)}"' in row
    assert "tester" in row and "failed" in row
    assert "质控" in admin.get("/admin/qc?lang=zh").text

    done = post_form(
        admin,
        "/admin/qc",
        "/admin/qc",
        {"kind": "positive", "item_code": "CLB", "kit_lot": CLB_LOT, "figures": "t=0.30 c=1.00"},
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"].startswith("/admin/qc?recorded=passed")
    shown = admin.get(done.headers["location"].split("#")[0] + "&lang=en").text
    assert 'data-held="0"' in _row(shown) and "The control passed" in shown
    for released in held:
        assert result(client, h, released["id"])["qc_hold"] is None


def test_refused_figures_are_shown_next_to_the_field_with_the_typed_values_kept(admin: TestClient) -> None:
    typed = {"kind": "positive", "item_code": "CLB", "kit_lot": CLB_LOT, "figures": "t=zero c=1"}
    page = post_form(admin, "/admin/qc?lang=en", "/admin/qc", typed)
    assert page.status_code == 422
    assert 'id="e-figures"' in page.text and "not a number" in page.text
    assert 'value="t=zero c=1"' in page.text and f'value="{CLB_LOT}"' in page.text
    unknown = post_form(admin, "/admin/qc?lang=en", "/admin/qc", {**typed, "kit_lot": "NO-SUCH", "figures": "t=1 c=1"})
    assert unknown.status_code in (400, 404, 422) and "NO-SUCH" in unknown.text
    assert 'value="t=1 c=1"' in unknown.text


def test_a_lots_history_shows_its_runs_newest_first_with_westgard_flags(
    admin: TestClient, client: TestClient, headers: Headers, session: Session
) -> None:
    control(client, headers, "negative", GOLD_NEGATIVE)
    control(client, headers, "positive", GOLD_NEGATIVE)
    page = admin.get(f"/admin/qc/lots/{_lot_id(session)}?lang=en")
    assert page.status_code == 200
    passed = re.findall(r'data-passed="(yes|no)"', page.text)
    assert passed == ["no", "yes"]  # newest first
    assert "Control history" in page.text and CLB_LOT in page.text
    assert "chart.svg" not in page.text  # colloidal-gold cards are not quantitative: no chart


def test_another_districts_lot_is_not_found_and_a_tester_is_refused(
    app: Any, admin: TestClient, session: Session
) -> None:
    second_district(session)
    other = sign_in(app, "admin_b")
    typed = {"kind": "positive", "item_code": "CLB", "kit_lot": CLB_LOT, "figures": "t=1.00 c=1.00"}
    assert post_form(other, "/admin/qc", "/admin/qc", typed).status_code == 303  # district B's lot fails there
    never_here = _lot_id(session)  # district B ran a control on it; this district neither ran one nor holds it
    assert other.get(f"/admin/qc/lots/{never_here}").status_code == 200
    assert admin.get(f"/admin/qc/lots/{never_here}").status_code == 404
    assert f'data-lot="{CLB_LOT}"' not in admin.get("/admin/qc").text
    assert admin.get("/admin/qc/lots/2147483000").status_code == 404
    tester = sign_in(app, "tester")
    for url in ("/admin/qc", f"/admin/qc/lots/{never_here}", "/admin/verification"):
        assert tester.get(url).status_code == 403
    refused = post_form(admin, "/admin/qc", "/admin/qc", {})
    assert refused.status_code == 422
    token = re.search(r'name="csrf" value="([^"]+)"', admin.get("/admin/qc").text)
    assert token
    assert tester.post("/admin/qc", data={"csrf": token.group(1)}).status_code in (403, 400)


def test_the_verification_page_shows_the_figures_per_item_and_maker(
    admin: TestClient, client: TestClient, headers: Headers
) -> None:
    h = headers
    sample = register(client, h["tester"], product_name="猪肉", category_code="PORK")
    blind = {"sample_label_id": sample["label_id"], "item_code": "CLB", "true_outcome": "positive"}
    assert client.post("/api/v1/qc/blind", json=blind, headers=h["admin"]).status_code == 201
    body = {"sample_label_id": sample["label_id"], "item_code": "CLB", "raw": GOLD_NEGATIVE, "kit_lot": CLB_LOT}
    submitted = client.post("/api/v1/results", json=body, headers=h["tester"]).json()
    assert act(client, h["reviewer"], submitted["id"], "approve").status_code == 200  # scored: a false negative
    page = admin.get("/admin/verification?lang=en")
    assert page.status_code == 200
    assert "Sensitivity" in page.text and "referral" in page.text
    row = re.search(r'<tr data-item="CLB" data-maker="x生物">(.*?)</tr>', page.text, re.S)
    assert row, page.text[-3000:]
    assert "0 / 0 / 0 / 1" in row.group(1) and "0 % (0/1)" in row.group(1)  # sensitivity 0 of 1
    assert "灵敏度" in admin.get("/admin/verification?lang=zh").text


def test_a_quantitative_lot_shows_its_westgard_flags_and_its_levey_jennings_chart(
    admin: TestClient, session: Session
) -> None:
    from datetime import date

    from lims.models import TestItem

    item = session.exec(select(TestItem).where(TestItem.code == "NO2")).one()
    reagent = KitLot(item_id=int(item.id or 0), lot="NO2-R1", manufacturer="x试剂", expires_on=date(2027, 6, 30))
    session.add(reagent)
    session.commit()
    # nitrite: curve A = 0.47 × c; established mean 1.2 mg/L, SD 0.05 — 1.38 mg/L is 3.6 SD above the mean
    for absorbance in ("0.564", "0.6486"):
        typed = {
            "kind": "standard",
            "item_code": "NO2",
            "kit_lot": "NO2-R1",
            "figures": f"absorbance={absorbance} blank=0",
        }
        assert post_form(admin, "/admin/qc", "/admin/qc", typed).status_code == 303
    page = admin.get(f"/admin/qc/lots/{reagent.id}?lang=en")
    assert page.status_code == 200
    assert f'src="/admin/qc/lots/{reagent.id}/chart.svg?lang=en"' in page.text
    assert re.findall(r'data-passed="(yes|no)"', page.text) == ["no", "yes"]
    assert "1-3s" in page.text
    chart = admin.get(f"/admin/qc/lots/{reagent.id}/chart.svg?lang=en")  # the image the page shows
    assert chart.status_code == 200 and chart.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in chart.text and "<script" not in chart.text
