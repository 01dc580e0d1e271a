"""The market board in Chromium at TV sizes: it loads from a live server, the server stops, and the board keeps
its data and says since when; a reload while the server is down gets the service worker's copy."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient

from tests.browser.audit import audit, watch
from tests.browser.conftest import SCREENSHOTS, _free_port
from tests.cases.helpers import dispose, notice, post
from tests.core.helpers import NEGATIVE_OPC, POSITIVE_OPC, act, register, submit

pytestmark = pytest.mark.browser
TV_SIZES = {"1920": {"width": 1920, "height": 1080}, "1280": {"width": 1280, "height": 720}}
BOARD = "/board/P05?district=XQ&refresh=2&rotate=3"
OFFLINE = re.compile(r"^网络中断，显示的是 \d\d:\d\d 的数据$")


class Server:
    """The app served by uvicorn on a free port, which the test can stop."""

    def __init__(self, app: Any) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off", ws="none")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop serving and wait until the port is closed."""
        self.server.should_exit = True
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()


@pytest.fixture
def board_server(app: Any, engine: Any, headers: dict[str, dict[str, str]]) -> Iterator[Server]:
    """A live server over two published results at P05 (one positive, destroyed) and a warning in force."""
    if engine.dialect.name != "sqlite":
        pytest.skip("browser tests run on SQLite only")
    h = headers
    with TestClient(app) as client:
        for product, stall, raw in (("小白菜", "A12", NEGATIVE_OPC), ("豇豆", "B03", POSITIVE_OPC)):
            sample = register(client, h["tester"], product_name=product, stall=stall, vendor=f"{stall} 摊")
            result = submit(client, h["tester"], sample["label_id"], raw)
            assert act(client, h["reviewer"], result["id"], "approve").status_code == 200
            assert act(client, h["reviewer"], result["id"], "publish").status_code == 200
        cases = client.get("/api/v1/cases", headers=h["reviewer"]).json()
        assert notice(client, h["station"], cases[0]["id"]).status_code == 200
        assert post(client, h["station"], cases[0]["id"], "acceptance").status_code == 200
        assert dispose(client, h["station"], cases[0]["id"]).status_code == 200
        warning = {"title_zh": "豇豆农药残留消费提示", "body_zh": "请充分浸泡清洗后食用。", "item_code": "OPC"}
        assert client.post("/api/v1/warnings", json=warning, headers=h["reviewer"]).status_code == 201
    server = Server(app)
    yield server
    if server.thread.is_alive():
        server.stop()


def _shows_the_data(page: Any) -> None:
    rows = page.locator("[data-rotate-list] tr:not(.off)")
    assert rows.count() == 2
    text = page.locator("[data-panel]").inner_text()
    assert "小白菜" in text and "豇豆" in text and "销毁" in text and "豇豆农药残留消费提示" in text
    width, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    height, tall = page.evaluate("() => [document.documentElement.scrollHeight, window.innerHeight]")
    assert width <= inner and height <= tall, "a TV cannot scroll"


def _offline_notice(page: Any) -> str:
    page.wait_for_selector("[data-offline]:not([hidden])", timeout=15_000)
    return str(page.locator("[data-offline]").inner_text()).strip()


@pytest.mark.parametrize("size", list(TV_SIZES))
def test_the_board_keeps_its_data_and_says_since_when_after_the_server_stops(
    browser: Any, board_server: Server, size: str
) -> None:
    context = browser.new_context(viewport=TV_SIZES[size], base_url=board_server.base, locale="en-US")
    context.set_default_timeout(10_000)
    try:
        page = watch(context.new_page())
        page.goto(BOARD)  # an English display: the board is still Chinese
        assert page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
        page.wait_for_function("() => caches.match(location.href).then((hit) => !!hit)")
        _shows_the_data(page)
        assert page.locator("[data-offline]").is_hidden()
        audit(page, "zh")
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"board-zh-{size}.png"))

        board_server.stop()
        said = _offline_notice(page)  # the next refresh (2 s) fails
        assert OFFLINE.match(said), said
        assert said.endswith(page.locator("[data-panel]").get_attribute("data-time") + " 的数据")
        _shows_the_data(page)
        page.screenshot(path=str(SCREENSHOTS / f"board-offline-zh-{size}.png"))

        page.reload()  # no server: the service worker's copy, and the notice again once a refresh fails
        _shows_the_data(page)
        assert OFFLINE.match(_offline_notice(page))
        page.screenshot(path=str(SCREENSHOTS / f"board-offline-reload-zh-{size}.png"))
    finally:
        context.close()


def test_rows_that_do_not_fit_turn_pages_instead_of_scrolling(browser: Any, board_server: Server) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 400}, base_url=board_server.base)
    try:
        page = watch(context.new_page())
        page.goto(BOARD)
        label = page.locator("[data-page-no]")
        page.wait_for_function("() => document.querySelector('[data-page-no]').textContent !== ''")
        first = label.inner_text()
        assert first == "第 1/2 页", first
        shown = page.locator("[data-rotate-list] tr:not(.off)").inner_text()
        page.wait_for_function("() => document.querySelector('[data-page-no]').textContent === '第 2/2 页'")
        assert page.locator("[data-rotate-list] tr:not(.off)").inner_text() != shown
        assert page.evaluate("() => document.documentElement.scrollHeight") <= 400
    finally:
        context.close()


def test_without_script_the_board_still_shows_and_reloads_itself(browser: Any, board_server: Server) -> None:
    context = browser.new_context(viewport=TV_SIZES["1280"], base_url=board_server.base, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(BOARD)
        assert "小白菜" in page.locator("[data-panel]").inner_text()
        refresh = page.locator("noscript").first.inner_html()
        assert 'http-equiv="refresh" content="2;url=/board/P05?district=XQ&amp;refresh=2&amp;rotate=3"' in refresh
    finally:
        context.close()
