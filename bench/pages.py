"""Weight and load time of each main page in Chromium, next to a baseline file served by the same app.

Builds a small database in a temporary folder (reference data, one user per role, a published positive on a
product with a barcode, a warning, results waiting for review), serves the app with uvicorn, and opens each
page in headless Chromium (/usr/bin/chromium):

- bytes of HTML + CSS + JS (images and fonts left out), uncompressed and gzip-compressed (``gzip -6``, what
  a compressing proxy in front would send), and as transferred (headers included; the server gzips static
  files, not pages), on the first load and on the second (what the cache did not spare);
- load time (navigation start to the load event) cold, in a new browser context with an empty cache, and
  warm, the same page loaded a second time in that context; the median of ``--repeat`` runs;
- the ratio of each cold load to the cold load of the baseline, a bare FastAPI page (a title and a line of
  text, no CSS or JS) served by uvicorn in the same process and loaded the same way.

Every page is loaded once before the timed runs, so the first row does not pay for the browser's start.

    .venv/bin/python bench/pages.py [--repeat 5] [--json]
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import json
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "bench-password-not-for-production"
GTIN13 = "6901234567892"
KINDS = {"document", "stylesheet", "script"}
BARE = "bare"  # the baseline, served by its own app
BARE_PAGE = '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>bare</title></head><body><p>bare</p>'

# page name -> (user signed in, or None for a visitor; address; {sample} is the signed label link)
PAGES: dict[str, tuple[str | None, str]] = {
    "bare FastAPI page": (BARE, "/"),
    "site.css alone": (None, "/static/site.css"),
    "home": (None, "/"),
    "scan": (None, "/trace"),
    "product": (None, f"/trace/{GTIN13}"),
    "sample link": (None, "{sample}"),
    "warnings": (None, "/warnings"),
    "login": (None, "/login"),
    "not found": (None, "/no/such/page"),
    "vehicle": ("tester", "/vehicle"),
    "review": ("reviewer", "/review"),
    "station": ("station", "/station"),
    "api docs": (None, "/docs"),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build(url: str, samples: int) -> dict[str, str]:
    """A migrated database with reference data, users and some published and pending results."""
    from fastapi.testclient import TestClient
    from sqlmodel import Session

    from lims.app import create_app
    from lims.db import make_engine
    from lims.services.access import auth
    from lims.services.core import schema
    from lims.services.core.audit import SYSTEM
    from lims.services.reference import reference_data
    from lims.services.samples import links

    engine = make_engine(url)
    schema.upgrade(engine)
    with Session(engine) as session:
        reference_data.load_reference(session, SYSTEM)
        for name, station in (("tester", None), ("reviewer", None), ("station", "ST04")):
            auth.add_user(session, SYSTEM, name, name, PASSWORD, station_code=station)
        session.commit()
    app = create_app(engine)
    with TestClient(app) as client:

        def token(name: str) -> dict[str, str]:
            body = client.post("/api/v1/auth/token", data={"username": name, "password": PASSWORD})
            assert body.status_code == 200, body.text
            return {"Authorization": f"Bearer {body.json()['access_token']}"}

        tester, reviewer = token("tester"), token("reviewer")

        def result(label: str, raw: dict[str, float]) -> dict[str, Any]:
            body = {"sample_label_id": label, "item_code": "OPC", "raw": raw}
            answer = client.post("/api/v1/results", json=body, headers=tester).json()
            while answer.get("repeat_state") == "pending":
                answer = client.post("/api/v1/results", json=body, headers=tester).json()
            return dict(answer)

        def sample(**extra: Any) -> str:
            body = {"point_code": "P05", "product_name": "小白菜", "category_code": "VEG_LEAF", **extra}
            answer = client.post("/api/v1/samples", json=body, headers=tester)
            assert answer.status_code == 201, answer.text
            return str(answer.json()["label_id"])

        product = sample(gtin=GTIN13, product_name="有机菠菜", brand="x农场")
        positive = result(product, {"control_dA": 0.60, "sample_dA": 0.18})
        for action in ("approve", "publish"):
            client.post(f"/api/v1/results/{positive['id']}/{action}", headers=reviewer)
        warning = {"title_zh": "叶菜农药残留消费提示", "body_zh": "请充分浸泡清洗后食用。", "item_code": "OPC"}
        client.post("/api/v1/warnings", json=warning, headers=reviewer)
        for k in range(samples):
            done = result(sample(gtin=GTIN13 if k % 2 else None), {"control_dA": 0.60, "sample_dA": 0.48})
            if k % 3:
                for action in ("approve", "publish"):
                    client.post(f"/api/v1/results/{done['id']}/{action}", headers=reviewer)
    return {"sample": links.sample_path(product)}


def bare_app() -> Any:
    """The baseline: one FastAPI route answering a minimal HTML page."""
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse

    app = FastAPI()

    @app.get("/")
    def page() -> HTMLResponse:
        return HTMLResponse(BARE_PAGE)

    return app


def serve(url: str | None) -> tuple[str, Any, threading.Thread]:
    """The app on a free port in this process, against `url` (None: the bare baseline app)."""
    import uvicorn

    from lims.app import create_app
    from lims.db import make_engine

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    if url is not None:
        os.environ["LIMS_PUBLIC_BASE_URL"] = base
        from lims.settings import get_settings

        get_settings.cache_clear()
    app = create_app(make_engine(url)) if url is not None else bare_app()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    config.lifespan = "off"
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    return base, server, thread


def _signed_in_state(browser: Any, base: str, user: str) -> Any:
    context = browser.new_context(base_url=base)
    page = context.new_page()
    page.goto("/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.stack button[type=submit]")
    page.wait_for_load_state()
    state = context.storage_state()
    context.close()
    return state


def _load(page: Any, address: str) -> tuple[float, dict[str, int]]:
    """Load `address`; its load time in ms and the bytes of its HTML, CSS and JS (as sent, gzipped, on the wire)."""
    bodies: list[bytes] = []

    def on_response(response: Any) -> None:
        kind = response.request.resource_type
        if kind in KINDS and (response.status < 300 or kind == "document"):  # an error page is a page too
            with contextlib.suppress(Exception):  # a body the browser dropped (a redirect's, a cancelled stream's)
                bodies.append(response.body())

    page.on("response", on_response)
    page.goto(address, wait_until="load")
    page.remove_listener("response", on_response)
    timing = page.evaluate(
        """() => {
          const nav = performance.getEntriesByType("navigation")[0];
          const kinds = new Set(["link", "script", "css", "navigation"]);
          let wire = nav.transferSize;
          for (const r of performance.getEntriesByType("resource")) {
            if (kinds.has(r.initiatorType)) wire += r.transferSize;
          }
          return [nav.loadEventEnd - nav.startTime, wire];
        }"""
    )
    sizes = {
        "raw": sum(len(b) for b in bodies),
        "gzip": sum(len(gzip.compress(b, 6)) for b in bodies),
        "wire": int(timing[1]),
    }
    return float(timing[0]), sizes


def measure(browser: Any, bases: dict[str, str], data: dict[str, str], repeat: int) -> list[dict[str, Any]]:
    """Every page's weight and its cold and warm load times (medians of `repeat` runs, after one untimed)."""
    base = bases["lims"]
    states = {user: _signed_in_state(browser, base, user) for user, _ in PAGES.values() if user and user != BARE}
    rows = []
    for name, (user, address) in PAGES.items():
        cold, warm, sizes, warm_wire = [], [], {}, []
        for run in range(repeat + 1):
            origin = bases[BARE] if user == BARE else base
            state = states.get(user) if user and user != BARE else None
            context = browser.new_context(base_url=origin, storage_state=state)
            page = context.new_page()
            cold_ms, sizes = _load(page, address.format(**data))
            warm_ms, again = _load(page, address.format(**data))
            context.close()
            if run == 0:
                continue  # the untimed first load: the browser, the server and the caches of both warm up
            cold.append(cold_ms)
            warm.append(warm_ms)
            warm_wire.append(again["wire"])
        rows.append(
            {
                "page": name,
                "raw_bytes": sizes["raw"],
                "gzip_bytes": sizes["gzip"],
                "wire_bytes": sizes["wire"],
                "warm_wire_bytes": int(statistics.median(warm_wire)),
                "cold_ms": statistics.median(cold),
                "warm_ms": statistics.median(warm),
            }
        )
    baseline = rows[0]["cold_ms"] or 1.0
    for row in rows:
        row["cold_vs_baseline"] = row["cold_ms"] / baseline
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    """The rows as a plain-text table."""
    head = (
        f"{'page':<18} {'HTML+CSS+JS':>12} {'gzip':>9} {'on wire':>9} {'warm wire':>9} "
        f"{'cold ms':>8} {'warm ms':>8} {'ratio':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['page']:<18} {r['raw_bytes']:>12,} {r['gzip_bytes']:>9,} {r['wire_bytes']:>9,} "
            f"{r['warm_wire_bytes']:>9,} {r['cold_ms']:>8.1f} {r['warm_ms']:>8.1f} {r['cold_vs_baseline']:>6.2f}"
        )
    lines.append("ratio: cold load time against the baseline's (a bare FastAPI page, no CSS or JS)")
    lines.append("on wire: bytes transferred, static files gzipped by the server; warm wire: the second load")
    return "\n".join(lines)


def main() -> None:
    """Build the data, serve it, measure every page, print the table (or JSON)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--samples", type=int, default=20, help="extra negative samples to fill the lists")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not CHROMIUM.exists():
        sys.exit(f"Chromium is not installed at {CHROMIUM}")
    sys.path.insert(0, str(ROOT / "src"))
    folder = tempfile.mkdtemp(prefix="lims-bench-pages-")
    os.environ.setdefault("LIMS_VAR_DIR", folder)
    os.environ.setdefault("LIMS_SECRET_KEY", "bench-secret-key-not-for-production-use")
    os.environ.setdefault("LIMS_AUDIT_KEY", "bench-audit-key-0123456789abcdefghijklmnopqrstuvwxyz")
    url = f"sqlite:///{Path(folder) / 'pages.db'}"
    data = build(url, args.samples)
    base, server, thread = serve(url)
    bare_base, bare_server, bare_thread = serve(None)
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--headless=new", "--no-sandbox"])
            rows = measure(browser, {"lims": base, BARE: bare_base}, data, max(1, args.repeat))
            browser.close()
    finally:
        for running, runner in ((server, thread), (bare_server, bare_thread)):
            running.should_exit = True
            runner.join(timeout=10)
    print(json.dumps(rows, indent=2) if args.json else table(rows))


if __name__ == "__main__":
    main()
