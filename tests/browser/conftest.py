"""Browser fixtures: the app served for real by uvicorn on a free port, and headless Chromium from Debian."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from sqlalchemy.engine import Engine

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PHONE = {"width": 360, "height": 740}
LAPTOP = {"width": 1280, "height": 800}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module (the system browser; no browser download).

    Not per session: Playwright's sync API keeps an asyncio loop running in the main thread while it is
    open, and tests of other modules that run their own loop (asyncio.run) must not find one."""
    if not CHROMIUM.exists():
        pytest.skip("Chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def live_server(app: Any, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The app on http://127.0.0.1:<free port>, against the test database (SQLite only, to keep CI fast)."""
    if engine.dialect.name != "sqlite":
        pytest.skip("browser tests run on SQLite only")
    from lims.settings import get_settings

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("LIMS_PUBLIC_BASE_URL", base)
    get_settings.cache_clear()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    yield base
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def new_page(browser: Any, live_server: str) -> Iterator[Any]:
    """A factory of pages in fresh browser contexts (separate cookies), phone-sized unless told otherwise.

    The browser's locale is Chinese unless told otherwise: pages follow Accept-Language, and the tests
    read the Chinese the product shows first."""
    contexts = []

    def make(viewport: dict[str, int] | None = None, locale: str = "zh-CN") -> Any:
        context = browser.new_context(viewport=viewport or PHONE, base_url=live_server, locale=locale)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def screenshot(page: Any, name: str) -> None:
    """Save the page at phone and laptop widths and check it fits a 360-px screen without horizontal scrolling."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for label, viewport in (("360", PHONE), ("1280", LAPTOP)):
        page.set_viewport_size(viewport)
        page.wait_for_timeout(50)
        if label == "360":
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 360, f"{name}: page is {width}px wide at 360px"
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(PHONE)


def sign_in(page: Any, username: str) -> None:
    """Sign in through the form."""
    from tests.conftest import PASSWORD

    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_load_state()
