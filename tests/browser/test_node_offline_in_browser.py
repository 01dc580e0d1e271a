"""With the centre stopped, a tester in Chromium on the vehicle node signs in, registers a sample, prints its label
and sees an instrument's reading arrive; once the centre starts, the sample and its result are under review there
within 10 s. The centre (`lims serve`, PostgreSQL when LIMS_TEST_DATABASE_URL is set) and the node (`lims node`,
SQLite) are real processes, the instrument a simulator feeding `lims acquire` on the node."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.browser.audit import audit, watch
from tests.browser.conftest import LAPTOP, PHONE, screenshot
from tests.sync.soak_harness import PASSWORD, SoakConfig, soak

# The soak harness leaves the acquisition's log file to the collector (its ResourceWarning is not this test's).
pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(360),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
]
UNDER_REVIEW_WITHIN = 10.0


def _config() -> SoakConfig:
    pg = os.environ.get("LIMS_TEST_DATABASE_URL")
    name = f"{make_url(pg).database}_node_acceptance" if pg else "unused"
    return SoakConfig(cut=0.0, pg_url=pg, pg_name=name, sync_seconds=0.5, backoff_max_seconds=1.0)


def _under_review(centre: str, label: str) -> bool:
    """Whether the centre holds the sample and a result of it waiting for a reviewer."""
    with httpx.Client(base_url=centre, timeout=5) as client:
        token = client.post("/api/v1/auth/token", data={"username": "reviewer", "password": PASSWORD})
        token.raise_for_status()
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        if client.get(f"/api/v1/samples/{label}", headers=headers).status_code != 200:
            return False
        rows = client.get("/api/v1/results", params={"status": "tested", "limit": 50}, headers=headers)
        return rows.status_code == 200 and any(r.get("sample_label_id") == label for r in rows.json())


def _audited(page: Any, lang: str) -> None:
    for viewport in (PHONE, LAPTOP):
        page.set_viewport_size(viewport)
        page.wait_for_timeout(50)
        audit(page, lang)
    page.set_viewport_size(PHONE)


def test_a_tester_works_offline_on_the_node_and_the_centre_gets_it(browser: Any, tmp_path: Path) -> None:
    with soak(tmp_path, _config(), log=print) as world:
        world.setup()
        assert world.node is not None
        world.centre.stop()  # the link is down from here on: the centre is not running at all

        context = browser.new_context(viewport=PHONE, base_url=world.node.base, locale="zh-CN")
        context.set_default_timeout(15_000)
        page = watch(context.new_page())
        page.goto("/login")
        page.fill("input[name=username]", "tester")
        page.fill("input[name=password]", PASSWORD)
        page.click("form.stack button[type=submit]")
        page.wait_for_url("**/vehicle")
        banner = page.locator("[data-node-link]")
        page.wait_for_function("() => document.querySelector('[data-node-link]').textContent.includes('离线自')")
        assert "条记录待同步" in banner.inner_text()

        page.select_option("select[name=point_code]", "P05")
        page.fill("input[name=product_name]", "油麦菜")
        page.select_option("select[name=category_code]", "VEG_LEAF")
        page.click("#register button[type=submit]")
        label = page.locator("[data-registered]").inner_text(timeout=15_000).strip()
        assert label[8] == "A", label  # VEH-01's letter: it cannot collide with the centre's ids
        _audited(page, "zh")

        # the label: its page and its PDF load on the node with the centre down
        label_page = context.new_page()
        label_page.goto(f"/vehicle/label/{label}")
        assert label in label_page.content()
        pdf = label_page.request.get(f"/vehicle/label/{label}.pdf")
        assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
        label_page.close()

        # the instrument sends a reading for the sample: it appears on the console live
        assert len(world.feed_instrument([label], 1)) == 1
        page.locator("[data-live-rows] td.label-cell", has_text=label).wait_for()
        page.reload()
        assert "离线自" in banner.inner_text()
        screenshot(page, "node-offline-zh")

        # the centre comes back: the sample and its result are under review there within 10 s
        world.centre.start()
        started = time.monotonic()
        while not _under_review(world.centre.base, label):
            assert time.monotonic() - started < UNDER_REVIEW_WITHIN, world.node.tail()
            time.sleep(0.25)
        print(f"under review at the centre {time.monotonic() - started:.1f} s after it started")

        review = browser.new_context(viewport=LAPTOP, base_url=world.centre.base, locale="zh-CN").new_page()
        review.goto("/login")
        review.fill("input[name=username]", "reviewer")
        review.fill("input[name=password]", PASSWORD)
        review.click("form.stack button[type=submit]")
        review.goto("/review")
        assert label in review.content()
        screenshot(review, "centre-review-after-sync")
        page.reload()
        page.wait_for_function("() => document.querySelector('[data-node-link]').textContent.includes('在线')")
        context.close()
