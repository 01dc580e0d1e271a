"""Security headers on every response (pages, API, static files, 404s, refusals, server errors), and a CSP
that holds: no inline script, handler or style in any template, HSTS only behind https."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from lims.services.access import throttle
from lims.web.headers import DOCS_POLICY, POLICY
from tests.security.hostile_server import served

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "lims" / "web" / "templates"
REQUIRED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "same-origin",
    "cross-origin-opener-policy": "same-origin",
}


def _directives(policy: str) -> dict[str, list[str]]:
    out = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def assert_hardened(response: Any, policy: str = POLICY) -> None:
    """The response carries the security headers, and its CSP allows no inline or foreign script."""
    for name, value in REQUIRED.items():
        assert response.headers.get(name) == value, (response.request.url, name, response.headers.get(name))
    assert "camera=(self)" in response.headers["permissions-policy"]
    csp = response.headers["content-security-policy"]
    assert csp == policy
    directives = _directives(csp)
    assert directives["frame-ancestors"] == ["'none'"]
    assert "'unsafe-inline'" not in directives["script-src"] and "'unsafe-eval'" not in directives["script-src"]
    assert "strict-transport-security" not in response.headers  # plain http


def test_pages_api_static_and_errors_carry_the_headers(client: TestClient, headers: dict) -> None:
    answers = {
        "home page": client.get("/"),
        "consumer page": client.get("/trace"),
        "sign-in page": client.get("/login"),
        "API answer": client.get("/api/v1/warnings"),
        "API trace 404": client.get("/api/v1/trace/06901234567892"),
        "API 401": client.get("/api/v1/results"),
        "API 422": client.get("/api/v1/trace/" + "9" * 600),
        "API 404 route": client.get("/api/v1/nope"),
        "static script": client.get("/static/scan.js"),
        "static style": client.get("/static/site.css"),
        "static 404": client.get("/static/nope.js"),
        "page 404": client.get("/no/such/page"),
        "openapi": client.get("/openapi.json"),
        "health": client.get("/healthz"),
        "body refused": client.post("/api/v1/samples", content=b"x" * (2 * 1024 * 1024)),
        "form refused": client.post("/login", data={"username": "x" * 300_000}),
    }
    for name, response in answers.items():
        assert response.status_code < 500, name
        assert_hardened(response)


def test_a_server_error_carries_the_headers_too(app: Any) -> None:
    def boom() -> None:
        raise RuntimeError("a fault of ours")

    app.add_api_route("/api/v1/boom", boom)
    app.router.routes.insert(0, app.router.routes.pop())  # before the pages' catch-all route
    with TestClient(app, raise_server_exceptions=False) as c:
        response = c.get("/api/v1/boom")
    assert response.status_code == 500
    assert_hardened(response)


def test_hsts_only_over_https(app: Any) -> None:
    with TestClient(app, base_url="https://lims.example") as secure:
        response = secure.get("/healthz")
    assert response.headers["strict-transport-security"].startswith("max-age=")
    with TestClient(app, base_url="http://lims.example") as plain:
        assert "strict-transport-security" not in plain.get("/healthz").headers


def test_hsts_when_a_proxy_in_lims_trusted_proxies_says_https(app: Any) -> None:
    app.state.trusted_proxies = throttle.trusted_networks("10.0.0.0/8")
    with TestClient(app, client=("10.1.2.3", 4000)) as via_proxy:
        assert "strict-transport-security" in via_proxy.get("/healthz", headers={"X-Forwarded-Proto": "https"}).headers
        assert "strict-transport-security" not in via_proxy.get("/healthz").headers
    with TestClient(app, client=("192.0.2.7", 4000)) as direct:  # anyone else saying so is not believed
        assert "strict-transport-security" not in direct.get("/healthz", headers={"X-Forwarded-Proto": "https"}).headers


def test_hsts_behind_a_trusted_proxy_that_says_https(tmp_path: Path) -> None:
    # `lims serve` leaves forwarded headers to the application: only LIMS_TRUSTED_PROXIES are believed.
    with served(tmp_path / "trusted", ("LIMS_TRUSTED_PROXIES", "127.0.0.1")) as server:
        behind_tls = httpx.get(f"{server.base}/healthz", headers={"X-Forwarded-Proto": "https"})
        plain = httpx.get(f"{server.base}/healthz")
    assert behind_tls.headers["strict-transport-security"].startswith("max-age=")
    assert "strict-transport-security" not in plain.headers
    assert_hardened(plain)
    with served(tmp_path / "untrusted") as server:
        claimed = httpx.get(f"{server.base}/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "strict-transport-security" not in claimed.headers


def test_the_api_docs_page_loads_only_from_this_site(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert_hardened(docs, DOCS_POLICY)
    directives = _directives(docs.headers["content-security-policy"])
    assert directives["script-src"] == ["'self'"] and directives["style-src"] == ["'self'"]
    assert not [v for values in directives.values() for v in values if v.startswith(("http:", "https:"))]
    assert "<script>" not in docs.text and 'src="/static/docs.js"' in docs.text
    assert client.get("/static/docs.js").status_code == 200
    assert client.get("/redoc").status_code == 404  # Redoc would need inline script: not served


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)
STYLE = re.compile(r"<style\b|\sstyle\s*=", re.I)


def test_no_template_has_inline_script_handler_or_style() -> None:
    offences = []
    for template in sorted(TEMPLATES.glob("*.html")):
        text = template.read_text(encoding="utf-8")
        for what, found in (
            ("inline <script>", INLINE_SCRIPT.search(text)),
            ("inline event handler", HANDLER.search(text)),
            ("javascript: URL", "javascript:" in text.lower()),
            ("inline style", STYLE.search(text)),
        ):
            if found:
                offences.append(f"{template.name}: {what}")
    assert not offences
