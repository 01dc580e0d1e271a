"""An administrator, as a new user would in Chromium: adds a sampling point, a kit lot and an instrument, records a
calibration, disables a user, and sees each change in its record's history; every page fits a phone and every
button, field and link is large enough to hit."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from lims.services.core import clock
from tests.browser.conftest import LAPTOP, PHONE, screenshot, sign_in
from tests.web.helpers import actor_of

pytestmark = pytest.mark.browser

TARGETS = """() => {
  const small = [];
  const seen = (el) => {
    const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
  };
  const fields = 'main button, main input:not([type=hidden]), main select, main textarea';
  for (const el of document.querySelectorAll(fields)) {
    const h = el.getBoundingClientRect().height;
    if (seen(el) && h < 44) small.push(el.outerHTML.slice(0, 80) + ' h=' + h);
  }
  for (const el of document.querySelectorAll('main a')) {
    const r = el.getBoundingClientRect();
    if (seen(el) && (r.height < 24 || r.width < 24)) {
      small.push(el.outerHTML.slice(0, 80) + ' ' + r.width + 'x' + r.height);
    }
  }
  return small;
}"""


def _check(page: Any, name: str) -> None:
    """Targets large enough at phone and laptop widths, no horizontal scroll at 360 px, screenshots of both."""
    for viewport in (PHONE, LAPTOP):
        page.set_viewport_size(viewport)
        page.wait_for_timeout(30)
        small = page.evaluate(TARGETS)
        assert not small, f"{name} at {viewport['width']} px: targets too small: {small[:5]}"
    screenshot(page, name)


def test_an_administrator_manages_points_kits_instruments_and_users(
    new_page: Any, session: Session, tmp_path: Path
) -> None:
    today = clock.today_of(session, actor_of(session, "admin").district_id)
    page = new_page()
    sign_in(page, "admin")
    assert page.url.endswith("/admin")
    assert page.locator("h1").inner_text() == "系统管理"
    _check(page, "admin-overview")

    # a sampling point
    page.click("nav.admin-nav >> text=采样点")
    page.fill("#f-code", "P91")
    page.select_option("#f-station_code", "ST04")
    page.fill("#f-name", "x新建农贸市场")
    page.select_option("#f-area", "rural")
    page.fill("#f-address", "x区新华路8号")
    page.fill("#f-latitude", "91")  # out of range: refused next to the field, what was typed kept
    page.click("#add button[type=submit]")
    assert page.locator("#e-latitude").is_visible()
    assert page.input_value("#f-name") == "x新建农贸市场"
    _check(page, "admin-point-refused")
    page.fill("#f-latitude", "30.61")
    page.fill("#f-longitude", "114.31")
    page.click("#add button[type=submit]")
    assert "/admin/points/P91" in page.url
    assert page.locator("#history [data-action=create]").count() == 1
    _check(page, "admin-point")

    # a kit lot
    page.click("nav.admin-nav >> text=试剂批次")
    page.select_option("#f-item_code", "CLB")
    page.fill("#f-lot", "CLB-2702A")
    page.fill("#f-manufacturer", "x生物")
    page.fill("#f-expires_on", (today + timedelta(days=180)).isoformat())
    page.fill("#f-cutoff_tc", "0.9")
    page.fill("#f-min_c_intensity", "0.2")
    page.select_option("#f-matrices", ["PORK", "BEEF_MUTTON"])
    page.click("#add button[type=submit]")
    assert "/admin/kits/" in page.url and "CLB-2702A" in page.inner_text("h1")
    assert "新建" in page.inner_text("#history")
    _check(page, "admin-kit-lot")

    # an instrument, past its calibration, then calibrated with a certificate
    page.click("nav.admin-nav >> text=仪器")
    page.fill("#f-serial", "GR-NEW-0002")
    page.select_option("#f-family", "gold")
    page.fill("#f-model", "colloidal gold card reader")
    page.fill("#f-location", "快检车")
    page.fill("#f-calibration_due", (today - timedelta(days=2)).isoformat())
    page.click("#add button[type=submit]")
    assert "/admin/instruments/GR-NEW-0002" in page.url
    assert "已过检定有效期" in page.inner_text("#summary")
    certificate = tmp_path / "检定证书.pdf"
    certificate.write_bytes(b"%PDF-1.4\n%%EOF\n")
    page.fill("#f-performed_by", "x市计量检定测试所")
    page.fill("#f-certificate_number", "JD-2026-1202")
    page.fill("#f-next_due", (today + timedelta(days=365)).isoformat())
    page.set_input_files("#f-certificate", str(certificate))
    page.click("#calibration button[type=submit]")
    assert page.locator("[data-due]").get_attribute("data-due") == (today + timedelta(days=365)).isoformat()
    assert "已过检定有效期" not in page.inner_text("#summary")
    assert page.locator("#history [data-action=calibrate]").count() == 1
    assert page.locator("#calibration a", has_text="JD-2026-1202").count() == 1
    _check(page, "admin-instrument")

    # a user disabled
    page.click("nav.admin-nav >> text=用户")
    _check(page, "admin-users")
    page.click("a[href='/admin/users/tester2']")
    page.click("#account button[type=submit]")
    assert page.locator("[data-active]").get_attribute("data-active") == "no"
    assert page.locator("#history [data-action=disable]").count() == 1
    _check(page, "admin-user")

    # the English pages say the same
    page.goto("/admin/users/tester2?lang=en")
    assert "disabled" in page.inner_text("#history")
