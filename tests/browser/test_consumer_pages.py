"""The consumer's pages in Chromium at 360 and 1280 px, in Chinese and English: the verdict card, the neutral pages,
a report with a photo that the browser shrinks before sending, and the station marking the report handled."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lims.models import ConsumerLead, FileContent
from tests.browser.audit import audit, watch
from tests.browser.conftest import LAPTOP, PHONE, screenshot, sign_in
from tests.core.helpers import act, register, submit
from tests.web.test_consumer import barcode_photo

pytestmark = pytest.mark.browser
GTIN13 = "6901234567892"
UNTESTED = "6920000000005"  # a valid GS1 China number nobody has tested
LANGS = (("zh", "zh-CN"), ("en", "en-US"))


def _world(client: TestClient, headers: dict[str, dict[str, str]]) -> str:
    """Two negatives and a suspected positive on one product, a warning about it, and a sample under test."""
    for item, raw, category in (
        ("OPC", {"control_dA": 0.60, "sample_dA": 0.48}, "VEG_LEAF"),
        ("OPC", {"control_dA": 0.60, "sample_dA": 0.50}, "VEG_LEAF"),
        ("CLB", {"t": 1.0, "c": 1.0}, "PORK"),
        ("CLB", {"t": 0.4, "c": 1.0}, "PORK"),
    ):
        sample = register(client, headers["tester"], gtin=GTIN13, product_name="猪里脊", category_code=category)
        extra = {"item_code": item, "kit_lot": f"{item}-2611A"} if item != "OPC" else {}
        result = submit(client, headers["tester"], sample["label_id"], raw, **extra)
        assert act(client, headers["reviewer"], result["id"], "approve").status_code == 200
        assert act(client, headers["reviewer"], result["id"], "publish").status_code == 200
    warning = {
        "title_zh": "猪肉克伦特罗消费警示",
        "title_en": "Clenbuterol in pork",
        "body_zh": "请谨慎购买。",
        "gtin": GTIN13,
    }
    assert client.post("/api/v1/warnings", json=warning, headers=headers["reviewer"]).status_code == 201
    return str(register(client, headers["tester"], product_name="上海青")["label_id"])


@pytest.mark.parametrize(("lang", "locale"), LANGS)
def test_consumer_pages_pass_the_audit_at_both_sizes(
    new_page: Any, client: TestClient, headers: dict[str, dict[str, str]], lang: str, locale: str
) -> None:
    pending = _world(client, headers)
    pages = {
        "home": "/",
        "trace-product": f"/trace/{GTIN13}",
        "trace-untested": f"/trace/{UNTESTED}",
        "trace-pending": f"/trace/{pending}",
    }
    for viewport in (PHONE, LAPTOP):
        page = watch(new_page(viewport, locale))
        for name, url in pages.items():
            page.goto(url)
            audit(page, lang)
            assert page.locator("[role=alert]").count() == 0, f"{name} shows an error"
            if viewport is PHONE:
                screenshot(page, f"consumer-{name}-{lang}")
    page = watch(new_page(PHONE, locale))
    page.goto(f"/trace/{GTIN13}")
    card = page.locator("#verdict")
    expected = (
        ("近30天抽检4次", "1次疑似阳性") if lang == "zh" else ("Last 30 days: 4 test(s)", "1 suspected positive(s)")
    )
    for text in expected:
        assert text in card.inner_text()
    assert card.locator(".verdict-warning").count() == 1  # the warning is in the card, before anything else
    first_card_top = card.bounding_box()["y"]
    assert first_card_top < page.locator("#authenticity").bounding_box()["y"]
    assert page.locator("#results details").count() == 2 and not page.locator("#results details[open]").count()
    assert "T/C" not in page.inner_text("main")
    page.locator("#results details summary").first.click()
    assert page.locator("#results details[open] .result").count() >= 1
    audit(page, lang)
    home = watch(new_page(PHONE, locale))
    home.goto("/")
    assert home.locator("#warnings").bounding_box()["y"] < home.locator("nav.ways").bounding_box()["y"]


def _big_photo(path: Any) -> None:
    """A 4000 × 3000 JPEG of about 2–3 MB: a phone camera's photo."""
    import numpy as np

    rng = np.random.default_rng(7)
    noise = rng.integers(0, 255, (3000, 4000, 3), dtype=np.uint8)
    Image.fromarray(noise).save(path, format="JPEG", quality=92)


def test_a_report_with_a_big_photo_is_shrunk_in_the_browser_and_reaches_the_station(
    new_page: Any, client: TestClient, headers: dict[str, dict[str, str]], engine: Engine, tmp_path: Any
) -> None:
    _world(client, headers)
    photo = tmp_path / "camera.jpg"
    _big_photo(photo)
    page = watch(new_page(PHONE))
    page.goto(f"/trace/{GTIN13}")
    page.click("a[href='#report']")
    form = page.locator("#report form")
    form.locator("select[name=kind]").select_option("complaint")
    form.locator("textarea[name=what_happened]").fill("里脊颜色异常，闻起来有药味")
    form.locator("input[name=where_bought]").fill("x农贸市场 12号摊位")
    form.locator("input[name=photo]").set_input_files(str(photo))
    screenshot(page, "consumer-report-form")
    with page.expect_request("**/trace/lead") as sent:
        form.locator("button[type=submit]").click()
    body_size = len(sent.value.post_data_buffer or b"")
    page.wait_for_url(f"**/trace/{GTIN13}?sent=1")
    assert page.locator("#sent").is_visible()
    audit(page, "zh")
    assert body_size < photo.stat().st_size / 2, (body_size, photo.stat().st_size)
    with Session(engine) as session:
        lead = session.exec(select(ConsumerLead)).one()
        stored = session.exec(select(FileContent).where(FileContent.sha256 == lead.photo_sha256)).one()
        image = Image.open(io.BytesIO(stored.data))
        assert image.format == "JPEG" and max(image.size) == 1600 and lead.kind == "complaint"

    for lang, locale in LANGS:
        station = watch(new_page(LAPTOP, locale))
        sign_in(station, "station")
        station.goto(f"/station/leads?lang={lang}")
        assert "里脊颜色异常" in station.inner_text("main")
        audit(station, lang)
        screenshot(station, f"station-leads-{lang}")
    station.fill(f"#lead-{lead.id} input[name=note]", "已到摊位核实")
    station.click(f"#lead-{lead.id} button[type=submit]")
    station.wait_for_url("**/station/leads?done=1")
    assert station.locator(f"#lead-{lead.id}").count() == 0
    audit(station, "en")


def test_a_photo_of_a_barcode_is_shrunk_and_sent_with_progress(
    new_page: Any, client: TestClient, headers: dict[str, dict[str, str]], tmp_path: Any
) -> None:
    _world(client, headers)
    small = Image.open(io.BytesIO(barcode_photo(GTIN13))).convert("RGB")
    big = small.resize((small.width * 4, small.height * 4), Image.Resampling.NEAREST)
    photo = tmp_path / "barcode.jpg"
    big.save(photo, format="JPEG", quality=95)
    page = watch(new_page(PHONE))
    page.goto("/trace")
    with page.expect_request("**/trace/photo") as sent:
        page.set_input_files("#scan input[name=photo]", str(photo))
    assert len(sent.value.post_data_buffer or b"") < photo.stat().st_size
    page.wait_for_url(f"**/trace/{GTIN13}")
    assert page.locator("#verdict").is_visible()
    audit(page, "zh")


def test_the_photo_form_still_works_without_scripts(
    browser: Any, live_server: str, client: TestClient, headers: dict[str, dict[str, str]], tmp_path: Any
) -> None:
    _world(client, headers)
    photo = tmp_path / "barcode.png"
    photo.write_bytes(barcode_photo(GTIN13))
    context = browser.new_context(viewport=PHONE, base_url=live_server, java_script_enabled=False, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto("/trace")
        page.set_input_files("#scan input[name=photo]", str(photo))
        page.click("#scan form.photo button[type=submit]")
        page.wait_for_url(f"**/trace/{GTIN13}")
        assert "近30天抽检4次" in page.inner_text("#verdict")
    finally:
        context.close()
