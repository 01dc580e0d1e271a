"""The pages in headless Chromium: a consumer's photo, a reviewer's approval reaching the station, live results."""

from __future__ import annotations

import re
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from instrument_drivers.reading import Reading
from instrument_drivers.registry import create_driver
from lims.models import User
from lims.models.common import utcnow
from lims.models.plans import UrgentTaskCreate
from lims.services.access import auth
from lims.services.results import ingest
from lims.services.samples import links, plans
from simulators.faults import FaultPlan
from simulators.registry import create_simulator, open_endpoint
from simulators.scenario import load
from tests.browser.conftest import screenshot, sign_in
from tests.core.helpers import POSITIVE_OPC, act, register, submit
from tests.web.test_consumer import barcode_photo

pytestmark = pytest.mark.browser
GTIN13 = "6901234567892"


def test_consumer_uploads_a_photo_of_a_product_barcode(
    new_page: Any,
    client: TestClient,
    headers: dict[str, dict[str, str]],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sample = register(client, headers["tester"], gtin=GTIN13, product_name="有机菠菜", brand="x农场")
    result = submit(client, headers["tester"], sample["label_id"], POSITIVE_OPC)
    act(client, headers["reviewer"], result["id"], "approve")
    act(client, headers["reviewer"], result["id"], "publish")
    photo = tmp_path / "barcode.png"
    photo.write_bytes(barcode_photo(GTIN13))

    page = new_page()
    page.goto("/")
    screenshot(page, "home")
    page.goto("/trace")
    screenshot(page, "consumer-scan")
    page.set_input_files("input[name=photo]", str(photo))  # the page sends the photo as soon as it is chosen
    page.wait_for_url(f"**/trace/{GTIN13}")
    assert page.locator(".result.positive .badge").inner_text() == "初筛阳性"  # its case has just opened
    assert "x仓储购物广场" in page.inner_text("main")
    assert "快速检测是一种筛查" in page.inner_text("main")
    screenshot(page, "consumer-product")
    page.click("a.lang")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Suspected positive" in page.inner_text("main")
    screenshot(page, "consumer-product-en")

    page.click("a.lang")
    page.goto(links.sample_path(sample["label_id"]))
    assert "已验证" in page.inner_text("main") and "有机菠菜" in page.inner_text("main")
    screenshot(page, "signed-sample-link")
    token = links.sign(sample["label_id"])
    page.goto(f"/s/{sample['label_id']}?t={token[:-4]}abcd")
    assert "已被改动" in page.inner_text("main")
    screenshot(page, "signed-link-tampered")
    page.goto("/trace/6901234567891")
    assert "校验码错误" in page.inner_text("main")
    screenshot(page, "consumer-bad-code")
    bad = tmp_path / "blank.png"
    bad.write_bytes(b"not an image at all")
    page.goto("/trace")
    page.set_input_files("input[name=photo]", str(bad))
    page.wait_for_selector(".error")
    assert "不是可识别的图片" in page.inner_text("main")
    screenshot(page, "consumer-bad-photo")
    page.goto("/no/such/page")
    assert "未找到" in page.inner_text("main")
    screenshot(page, "not-found")
    expiring = links.sample_path(sample["label_id"], max_age=600)
    later = utcnow() + timedelta(hours=1)
    with time_machine.travel(later, tick=False):
        page.goto(expiring)
        assert "此链接已过期" in page.inner_text("main")
    screenshot(page, "signed-link-expired")

    english = new_page(locale="en-US")  # a browser set to English is answered in English without asking
    english.goto(f"/trace/{GTIN13}")
    assert english.locator("html").get_attribute("lang") == "en"
    assert "Suspected positive" in english.inner_text("main")
    english.goto("/trace/6901234567891")
    assert "check digit" in english.inner_text("main")


def test_reviewer_approves_a_positive_and_the_station_is_notified(
    new_page: Any, client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    other = register(client, headers["tester"], product_name="小白菜")
    submit(client, headers["tester"], other["label_id"], POSITIVE_OPC)
    sample = register(client, headers["tester"], product_name="猪后腿肉", category_code="PORK")
    body = {
        "sample_label_id": sample["label_id"],
        "item_code": "CLB",
        "raw": {"t": 0.4, "c": 1.0},
        "instrument_serial": "GR-CR-0001",
        "kit_lot": "CLB-2611A",
    }
    response = client.post("/api/v1/results", json=body, headers=headers["tester"])
    assert response.status_code == 201, response.text
    result = response.json()

    reviewer = new_page()
    reviewer.goto("/review")
    assert "/login" in reviewer.url
    screenshot(reviewer, "login")
    sign_in(reviewer, "reviewer")
    assert reviewer.url.endswith("/review")
    card = reviewer.locator(f"#result-{result['id']}")
    assert "疑似阳性" in card.inner_text()
    card.locator("details summary").click()
    screenshot(reviewer, "review-queue")
    assert "无仪器、试剂有效期或判定一致性提示" in card.inner_text()  # nothing to acknowledge
    card.locator("form[action*='/approve'] button").click()
    reviewer.wait_for_selector(".ok")
    assert f"/review/results/{result['id']}/publish" in reviewer.content()
    reviewer.fill("input[name=title_zh]", "叶菜农药残留消费提示")
    reviewer.fill("textarea[name=body_zh]", "近期抽检发现个别叶菜农药残留疑似超标，请充分浸泡清洗后食用。")
    reviewer.select_option("select[name=item_code]", "OPC")
    reviewer.check("#warning-form input[name=confirm]")
    reviewer.click("#warning-form button[type=submit]")
    reviewer.wait_for_selector(".ok")
    reviewer.check(f"#result-{result['id']} form[action*='/publish'] input[name=confirm]")
    reviewer.click(f"#result-{result['id']} form[action*='/publish'] button")
    reviewer.wait_for_selector(".ok")

    station = new_page()
    sign_in(station, "station")
    assert station.url.endswith("/station")
    notice = station.locator("#notifications")
    assert "阳性结果已审核" in notice.inner_text() and sample["label_id"] in notice.inner_text()
    assert station.locator("[data-case]").count() == 1
    assert station.locator(f"tr[data-result='{result['id']}']").count() == 1
    assert station.locator("svg.chart").count() == 4
    screenshot(station, "station-dashboard")
    station.goto("/station?lang=en")
    screenshot(station, "station-dashboard-en")
    station.goto("/station?lang=zh")
    station.click("#notifications button")
    station.wait_for_load_state()
    assert station.locator("#notifications").count() == 0

    station.goto("/review")
    assert "无权进行此操作" in station.inner_text("main")
    screenshot(station, "forbidden")

    public = new_page()
    public.goto("/warnings")
    assert "叶菜农药残留消费提示" in public.inner_text("main")
    screenshot(public, "warnings")


def simulated_reading(engine: Engine, tmp_path: Path, label_id: str, result: str = "positive") -> ingest.Stored:
    """Run the pesticide analyser simulator with one reading for `label_id` and store what the driver receives."""
    scenario_file = tmp_path / "scenario.yaml"
    scenario_file.write_text(
        "serial: PR-8CH-0001\nfirst_sequence: 500\nreadings:\n"
        f"  - {{sample: {label_id}, item: OPC, result: {result}}}\n",
        encoding="utf-8",
    )
    scenario = load("pesticide", scenario_file=scenario_file)
    endpoint, _framing, url = open_endpoint("pesticide", "socket://127.0.0.1:0")
    simulator = create_simulator("pesticide", scenario, endpoint, FaultPlan.parse("", seed=0), exit_when_done=True)
    thread = threading.Thread(target=simulator.run, kwargs={"duration": 20}, daemon=True)
    thread.start()
    stored: list[ingest.Stored] = []
    try:
        with create_driver("pesticide", url) as driver:
            ingest.acquire(engine, driver, count=1, idle_exit=10, on_stored=stored.append)
    finally:
        simulator.stop()
        thread.join(timeout=5)
        endpoint.close()
    assert len(stored) == 1
    return stored[0]


def test_tester_registers_a_sample_against_a_task_and_watches_the_reading_arrive(
    new_page: Any, session: Session, engine: Engine, tmp_path: Path
) -> None:
    tester = session.exec(select(User).where(User.username == "tester")).one()
    task = plans.create_urgent(
        session,
        auth.actor_for(tester),
        UrgentTaskCreate(point_code="P05", complaint="消费者投诉油麦菜农残", category_code="VEG_LEAF", items=["OPC"]),
    )
    session.commit()
    page = new_page()
    sign_in(page, "tester")
    assert page.url.endswith("/vehicle")
    assert page.locator(f"[data-task='T{task.id}']").count() == 1
    page.click(f"[data-task='T{task.id}'] a")
    assert page.input_value("select[name=task_ref]") == f"T{task.id}"
    assert page.input_value("select[name=point_code]") == "P05"
    page.fill("input[name=product_name]", "油麦菜")
    page.fill("input[name=gtin]", GTIN13)
    page.click("#register button[type=submit]")
    page.wait_for_selector("[data-registered]")
    label_id = page.inner_text("[data-registered]")
    assert re.fullmatch(r"XQ\d{9}[0-9A-Z]", label_id)
    assert "1/1" in page.inner_text(f"[data-task='T{task.id}']")
    page.wait_for_function("() => document.querySelector('[data-live-state]').classList.contains('on')")
    screenshot(page, "vehicle-console")

    stored = simulated_reading(engine, tmp_path, label_id)
    assert stored.result_id is not None and stored.judgement == "positive"
    row = page.locator(f"tr[data-result='{stored.result_id}']")
    row.wait_for(timeout=8_000)
    assert "疑似阳性" in row.inner_text() and label_id in row.inner_text()
    assert page.inner_text("[data-count-positives]") == "1"
    screenshot(page, "vehicle-live-result")

    held = ingest.store(
        session,
        Reading(
            instrument_serial="PR-8CH-0001",
            family="pesticide",
            sequence=8,
            item_code="OPC",
            sample_label_id="XQ0000000000",
            raw={"control_dA": 0.6, "sample_dA": 0.5},
            judgement="negative",
        ),
    )
    session.commit()
    page.goto("/vehicle")
    page.fill(f"[data-held='{held.held_id}'] input[name=label_id]", label_id)
    screenshot(page, "vehicle-held-reading")
    page.click(f"[data-held='{held.held_id}'] button")
    page.wait_for_selector(".ok")
    assert page.locator("[data-held]").count() == 0

    page.goto(f"/vehicle/label/{label_id}")
    assert page.locator(".label-svg svg").count() == 1
    screenshot(page, "sample-label")


FAKE_CAMERA = """
window.BarcodeDetector = class {
  async detect() { return window.__fakeCode ? [{ rawValue: window.__fakeCode, format: "ean_13" }] : []; }
};
navigator.mediaDevices.getUserMedia = async () => {
  const canvas = document.createElement("canvas");
  canvas.width = 320; canvas.height = 240;
  canvas.getContext("2d").fillRect(0, 0, 320, 240);
  return canvas.captureStream(5);
};
"""


def test_camera_scanning_where_the_browser_has_a_barcode_detector(
    new_page: Any, client: TestClient, headers: dict[str, dict[str, str]]
) -> None:
    sample = register(client, headers["tester"], gtin=GTIN13)
    result = submit(client, headers["tester"], sample["label_id"], POSITIVE_OPC)
    act(client, headers["reviewer"], result["id"], "approve")
    act(client, headers["reviewer"], result["id"], "publish")
    page = new_page()
    page.add_init_script(FAKE_CAMERA)
    page.goto("/trace")
    start = page.locator("[data-scan-start]")
    assert start.is_visible()  # shown only where BarcodeDetector exists
    start.click()
    page.locator("video[data-scan-video]").wait_for(state="visible")
    page.evaluate(f"window.__fakeCode = '{GTIN13}'")
    page.wait_for_url(f"**/trace/{GTIN13}")
    assert "疑似阳性" in page.inner_text("main")
    page.evaluate(f"window.__fakeCode = '{links.sample_url(sample['label_id'])}'")  # a label's QR code
    page.click("[data-scan-start]")
    page.wait_for_url(f"**/s/{sample['label_id']}?t=*")
    assert "已验证" in page.inner_text("main")

    tester = new_page()
    tester.add_init_script(FAKE_CAMERA)
    sign_in(tester, "tester")
    tester.evaluate(f"window.__fakeCode = '{GTIN13}'")
    tester.click("#register [data-scan-start]")
    tester.wait_for_function(f"() => document.querySelector('#gtin').value === '{GTIN13}'")
