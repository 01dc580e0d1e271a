"""The tester's task at a market stall, phone in one hand, in headless Chromium at 360 and 1280 px: register a
sample with a mistake and fix it, watch held readings arrive live and counted, discard one with a reason, assign
another, correct a sample, read a barcode from a photo; every control big enough to tap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from instrument_drivers.reading import Reading
from lims.services.results import ingest
from tests.browser.audit import audit, watch
from tests.browser.conftest import LAPTOP, PHONE, screenshot, sign_in
from tests.web.test_consumer import barcode_photo

pytestmark = pytest.mark.browser
GTIN13 = "6901234567892"

IN_VIEW = """(selector) => { const r = document.querySelector(selector).getBoundingClientRect();
  return r.top >= 0 && r.bottom <= window.innerHeight; }"""


def _reading(sequence: int, label_id: str | None = None, **raw: float) -> Reading:
    return Reading(
        instrument_serial="PR-8CH-0001",
        family="pesticide",
        sequence=sequence,
        item_code="OPC",
        channel=2,
        sample_label_id=label_id,
        raw=raw or {"control_dA": 0.6, "sample_dA": 0.18},
        value=70.0,
        judgement="positive",
    )


# What the page cost to load: the document and what it pulled in, not the live stream or the photo scan.
WEIGHT = """() => {
  const entries = [...performance.getEntriesByType("navigation"), ...performance.getEntriesByType("resource")]
    .filter((e) => !["eventsource", "xmlhttprequest", "fetch"].includes(e.initiatorType));
  const nav = performance.getEntriesByType("navigation")[0];
  return { bytes: entries.reduce((sum, e) => sum + (e.transferSize || e.encodedBodySize || 0), 0),
           load_ms: Math.round(nav.loadEventEnd - nav.startTime) };
}"""


def _audited(page: Any, lang: str) -> None:
    """The page audit at phone and laptop widths: language, tap targets, axe-core, scrolling, script errors."""
    for viewport in (PHONE, LAPTOP):
        page.set_viewport_size(viewport)
        page.wait_for_timeout(50)
        audit(page, lang)
    page.set_viewport_size(PHONE)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_tester_walks_the_console_at_the_stall(new_page: Any, session: Session, tmp_path: Path, lang: str) -> None:
    page = watch(new_page(locale="zh-CN" if lang == "zh" else "en-US"))
    page.add_init_script("delete window.BarcodeDetector;")  # as on iOS and in WeChat
    sign_in(page, "tester")
    assert page.url.endswith("/vehicle")
    cold = page.evaluate(WEIGHT)
    page.reload()
    warm = page.evaluate(WEIGHT)
    print(f"vehicle page ({lang}): cold {cold['bytes']} B in {cold['load_ms']} ms,", end=" ")
    print(f"warm {warm['bytes']} B in {warm['load_ms']} ms")
    assert cold["bytes"] < 40_000, cold  # light enough for a weak signal at a market
    _audited(page, lang)
    screenshot(page, f"vehicle-{lang}")

    # A mistyped barcode: the error is shown where the tester is, with everything typed kept.
    page.select_option("select[name=point_code]", "P05")
    page.fill("input[name=product_name]", "油麦菜")
    page.fill("input[name=vendor]", "城东农贸市场李记蔬菜")
    page.fill("input[name=stall]", "B-12")
    page.select_option("select[name=category_code]", "VEG_LEAF")
    page.fill("input[name=gtin]", "6901234567891")
    page.click("#register button[type=submit]")
    page.wait_for_selector("#register [data-form-error]")
    assert page.evaluate(IN_VIEW, "#register [data-form-error]"), "the error is not where the tester is"
    assert page.input_value("input[name=product_name]") == "油麦菜"
    assert page.input_value("input[name=stall]") == "B-12"
    assert page.input_value("input[name=vendor]") == "城东农贸市场李记蔬菜"
    assert page.input_value("select[name=category_code]") == "VEG_LEAF"
    screenshot(page, f"vehicle-register-error-{lang}")
    _audited(page, lang)

    # The camera is missing: a photo of the barcode fills the field.
    photo = tmp_path / "barcode.png"
    photo.write_bytes(barcode_photo(GTIN13))
    assert page.locator("[data-scan-start]").is_hidden() and page.locator("[data-photo-scan]").is_visible()
    page.set_input_files("[data-photo-input]", str(photo))
    page.wait_for_function(f"() => document.querySelector('#gtin').value === '{GTIN13}'")
    page.click("#register button[type=submit]")
    page.wait_for_selector("[data-registered]")
    label_id = page.inner_text("[data-registered]")
    card = page.locator(f"[data-sample='{label_id}']")
    assert "B-12" in card.inner_text() and "城东农贸市场李记蔬菜" in card.inner_text()
    assert page.input_value("select[name=category_code]") == ""  # the next sample's category is not assumed
    page.wait_for_function("() => document.querySelector('[data-live-state]').classList.contains('on')")

    # Two readings are held while the page is open: they appear, the positives counted at the top.
    unknown = ingest.store(session, _reading(81))
    incomplete = ingest.store(session, _reading(82, label_id, control_dA=0.6))
    session.commit()
    assert unknown.held_id and incomplete.held_id
    for held_id in (unknown.held_id, incomplete.held_id):
        page.locator(f"[data-held='{held_id}']").wait_for(timeout=8_000)
    page.wait_for_function("() => document.querySelector('[data-count-held-positives]').textContent === '2'")
    assert page.locator("[data-held-summary].alert").is_visible()
    known = page.locator(f"[data-held='{incomplete.held_id}']")
    assert label_id in known.inner_text() and "油麦菜" in known.inner_text()
    assert known.locator("input[name=label_id]").input_value() == label_id
    page.locator("#held").scroll_into_view_if_needed()
    screenshot(page, f"vehicle-held-live-{lang}")
    _audited(page, lang)

    # Discard the incomplete one with a reason, assign the other to the sample.
    known.locator("summary").click()
    known.locator("input[name=reason]").fill("缺少样品吸光度，重测")
    known.locator("[data-held-discard] button").click()
    page.wait_for_selector("p.ok")
    assert page.locator(f"[data-held='{incomplete.held_id}']").count() == 0
    assert page.inner_text("[data-count-held-positives]") == "1"
    other = page.locator(f"[data-held='{unknown.held_id}']")
    other.locator("input[name=label_id]").fill(label_id)
    other.locator("[data-held-assign] button").click()
    page.wait_for_selector("p.ok")
    assert page.locator("[data-held]").count() == 0
    assert page.inner_text("[data-count-held]") == "0"
    screenshot(page, f"vehicle-held-done-{lang}")

    # Correct the sample: the stall was the next one.
    page.click(f"[data-sample='{label_id}'] [data-correct-link]")
    page.wait_for_selector("#correct form")
    assert page.evaluate(IN_VIEW, "#correct h2")
    page.fill("#correct input[name=stall]", "B-14")
    page.click("#correct button[type=submit]")  # no reason yet: the browser asks for one
    assert page.locator("#correct input[name=reason]").evaluate("el => !el.validity.valid")
    page.fill("#correct input[name=reason]", "摊位号登记错误")
    screenshot(page, f"vehicle-correct-{lang}")
    _audited(page, lang)
    page.click("#correct button[type=submit]")
    page.wait_for_selector("[data-corrected]")
    assert "B-14" in page.inner_text(f"[data-sample='{label_id}']")
    screenshot(page, f"vehicle-corrected-{lang}")
    _audited(page, lang)
