"""The reviewer's and the station's main tasks in headless Chromium, at 360 and 1280 px, in both languages:
batch approval with a flag left unacknowledged, confirmed publication, the station's case card with its live
countdown, the history, the hotspot scale and the map."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.browser.audit import audit, watch
from tests.browser.conftest import LAPTOP, PHONE, SCREENSHOTS, screenshot, sign_in
from tests.core.helpers import NEGATIVE_OPC, POSITIVE_OPC, act, register, submit
from tests.web.test_review import _flagged

pytestmark = pytest.mark.browser

# Every visible field and button of the page's own part (the header and footer are everyone's) at least 44 px
# tall (a checkbox through its label), every link at least 24 x 24.
TARGETS_JS = r"""
() => {
  const out = [];
  const shown = (el) => !!el.getClientRects().length && getComputedStyle(el).visibility !== "hidden";
  const fields = "main button, main select, main textarea, main input:not([type=hidden])";
  for (const el of document.querySelectorAll(fields)) {
    if (!shown(el)) continue;
    const target = (el.type === "checkbox" || el.type === "radio") ? el.closest("label") : el;
    if (!target) { out.push("unlabelled " + el.name); continue; }
    const h = target.getBoundingClientRect().height;
    if (h + 0.01 < 44) out.push(el.tagName + "[" + (el.name || el.textContent.trim().slice(0, 20)) + "] " + h);
  }
  for (const a of document.querySelectorAll("main a[href], main summary")) {
    if (!shown(a)) continue;
    const r = a.getBoundingClientRect();
    if (r.height + 0.01 < 24 || r.width + 0.01 < 24) {
      out.push("link " + a.textContent.trim().slice(0, 20) + " " + r.width + "x" + r.height);
    }
  }
  return out;
}
"""


# Bytes the browser received for the document and its files, and the time to the load event, as it measures them.
WEIGHT_JS = r"""
() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const files = performance.getEntriesByType("resource");
  const body = (e) => e.transferSize || e.encodedBodySize || 0;
  return {
    document: nav.encodedBodySize,
    transferred: body(nav) + files.reduce((n, e) => n + body(e), 0),
    load_ms: Math.round(nav.loadEventEnd - nav.startTime),
  };
}
"""


def weigh(page: Any, path: str) -> dict[str, Any]:
    """The page's weight and load time, cold (a fresh context) and warm (loaded again)."""
    page.goto(path)
    cold = page.evaluate(WEIGHT_JS)
    page.reload()
    warm = page.evaluate(WEIGHT_JS)
    assert cold["document"] < 40 * 1024, f"{path}: {cold}"
    return {"path": path, "cold": cold, "warm": warm}


def check(page: Any, lang: str) -> None:
    """The page at both widths: the shared page audit (language, targets, axe-core, scroll, script errors), and
    the targets of the page's own part once more with what they measure."""
    for viewport in (PHONE, LAPTOP):
        page.set_viewport_size(viewport)
        page.wait_for_timeout(50)
        small = page.evaluate(TARGETS_JS)
        assert small == [], f"{page.url} at {viewport['width']} px: {small}"
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
        audit(page, lang)
    page.set_viewport_size(PHONE)


def test_reviewer_batch_and_station_board(
    new_page: Any, client: TestClient, headers: dict[str, dict[str, str]], engine: Engine
) -> None:
    clean = []
    for product in ("小白菜", "生菜", "菠菜"):
        sample = register(client, headers["tester"], product_name=product, vendor="x蔬菜经营部", stall="A-12")
        clean.append(submit(client, headers["tester"], sample["label_id"], NEGATIVE_OPC)["id"])
    flagged = _flagged(client, headers, engine)["id"]
    positive_sample = register(client, headers["tester"], product_name="油麦菜", vendor="x蔬菜经营部", stall="B-7")
    positive = submit(client, headers["tester"], positive_sample["label_id"], POSITIVE_OPC)["id"]

    reviewer = watch(new_page())
    sign_in(reviewer, "reviewer")
    reviewer.goto("/review?flags=")
    check(reviewer, "zh")
    for result_id in (*clean, flagged):
        reviewer.check(f"#result-{result_id} input[name=ids]")
    screenshot(reviewer, "review-batch-selected")
    reviewer.click("#batch-approve button[type=submit]")
    reviewer.wait_for_selector("#summary")
    assert reviewer.url.endswith("#queue") and "done=batch_approve" in reviewer.url
    summary = reviewer.inner_text("#summary")
    assert "已审核 3 条，跳过 1 条" in summary and "未确认该结果的提示" in summary
    assert reviewer.locator(f"#queue ~ article#result-{flagged}").count() == 1  # still waiting, flags and all
    check(reviewer, "zh")
    screenshot(reviewer, "review-batch-summary")

    # the flagged one on its own, acknowledged; then the positive, which opens a case
    reviewer.check(f"#result-{flagged} form[action*='/approve'] input[name=acknowledge_flags]")
    reviewer.click(f"#result-{flagged} form[action*='/approve'] button")
    reviewer.wait_for_selector(".ok")
    reviewer.click(f"#result-{positive} form[action*='/approve'] button")
    reviewer.wait_for_selector(".ok")
    assert reviewer.url.endswith("#queue")

    # publishing needs the confirmation: without it the browser does not send the form, and nothing changes
    for result_id in clean:
        reviewer.check(f"#result-{result_id} input[name=ids][form=batch-publish]")
    reviewer.click("#batch-publish button[type=submit]")
    assert "done=batch_publish" not in reviewer.url
    assert client.get(f"/api/v1/results/{clean[0]}", headers=headers["reviewer"]).json()["status"] == "approved"
    reviewer.check("#batch-publish input[name=confirm]")
    reviewer.click("#batch-publish button[type=submit]")
    reviewer.wait_for_selector("#summary")
    assert "已发布 3 条，跳过 0 条" in reviewer.inner_text("#summary") and reviewer.url.endswith("#approved")
    screenshot(reviewer, "review-batch-published")
    reviewer.goto("/review?lang=en&judgement=positive")
    assert reviewer.locator("article.result-card, article.row-card").count() == 1
    check(reviewer, "en")
    screenshot(reviewer, "review-filtered-en")
    reviewer.goto("/review?lang=zh")
    assert act(client, headers["reviewer"], flagged, "publish").status_code == 200

    station = watch(new_page())
    sign_in(station, "station")
    station.goto("/station")
    card = station.locator("[data-case]").first
    text = card.inner_text()
    assert "油麦菜" in text and "x蔬菜经营部" in text and "B-7" in text
    assert card.locator(f"a[href='/trace/{positive_sample['label_id']}']").count() == 1
    countdown = card.locator(".countdown")
    assert re.fullmatch(r"剩余 (29|30)分钟", countdown.inner_text())
    countdown.evaluate("el => { el.textContent = ''; }")  # station.js writes it again from data-deadline
    station.wait_for_function("() => document.querySelector('.countdown').textContent.length > 0", timeout=35_000)
    assert re.fullmatch(r"剩余 (29|30)分钟", countdown.inner_text())
    assert station.locator("#map svg.point-map g.map-point").count() == 10
    assert station.locator("#map g.map-point.negative").count() >= 1
    assert station.locator("#history").count() == 1
    assert station.locator("svg.chart[data-scale]").count() == 4
    check(station, "zh")
    screenshot(station, "station-board")
    station.goto("/station?lang=en")
    assert re.fullmatch(r"(29|30) min left", station.locator(".countdown").first.inner_text())
    check(station, "en")
    screenshot(station, "station-board-en")

    weights = [weigh(new_page(), "/login")]
    fresh = new_page()
    sign_in(fresh, "reviewer")
    weights.append(weigh(fresh, "/review"))
    fresh = new_page()
    sign_in(fresh, "station")
    weights.append(weigh(fresh, "/station"))
    SCREENSHOTS.parent.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS.parent / "weights-review-station.json").write_text(json.dumps(weights, indent=1))
