"""What every page shares: the expired-form page, the self-hosted API docs, the icon."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import PASSWORD
from tests.web.helpers import csrf_of, sign_in

WARNING = {"title_zh": "叶菜消费提示", "body_zh": "请充分浸泡清洗后食用。"}


def _sign_in_again(client: TestClient, username: str) -> None:
    page = client.get("/login")
    data = {"username": username, "password": PASSWORD, "csrf": csrf_of(page.text), "next": ""}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303


def test_a_form_whose_token_went_stale_says_the_form_expired(app: Any) -> None:
    client = sign_in(app, "reviewer")
    stale = csrf_of(client.get("/review").text)  # the page was left open …
    _sign_in_again(client, "reviewer")  # … while the reviewer signed in again (a new session, new tokens)
    referer = {"Referer": f"{client.base_url}/review?item=OPC"}
    response = client.post("/review/warnings", data={"csrf": stale, **WARNING}, headers=referer)
    assert response.status_code == 403
    assert "表单已过期，请重试" in response.text
    assert "无权进行此操作" not in response.text
    assert 'href="/review?item=OPC"' in response.text  # back to the form, which comes with a fresh token
    english = client.post(
        "/review/warnings", data={"csrf": stale, **WARNING}, headers={**referer, "Accept-Language": "en"}
    )
    assert english.status_code == 403 and "The form expired; please try again" in english.text


def test_a_sign_in_without_the_browser_token_links_back_to_the_form(app: Any) -> None:
    client = TestClient(app)
    response = client.post("/login", data={"username": "reviewer", "password": PASSWORD, "csrf": "x"})
    assert response.status_code == 403
    assert "表单已过期，请重试" in response.text
    assert re.search(r'<a class="button" href="/login">', response.text)


def test_another_sites_referer_is_not_a_way_back(app: Any) -> None:
    client = sign_in(app, "reviewer")
    response = client.post(
        "/review/warnings", data={"csrf": "forged", **WARNING}, headers={"Referer": "https://evil.example/x"}
    )
    assert response.status_code == 403 and "evil.example" not in response.text


def test_the_api_docs_page_references_only_this_site(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert not re.search(r"(https?:)?//[a-z0-9]", docs.text, re.I), docs.text
    for asset in re.findall(r'(?:href|src)="(/[^"]+)"', docs.text):
        assert client.get(asset).status_code == 200, asset
    assert "/static/swagger/swagger-ui-bundle.js" in docs.text


def test_the_site_has_an_icon(client: TestClient) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert '<link rel="icon" href="/static/favicon.svg"' in client.get("/login").text
    assert client.get("/static/favicon.svg").status_code == 200


def test_static_files_are_gzipped_and_pages_are_not(client: TestClient) -> None:
    css = client.get("/static/site.css", headers={"Accept-Encoding": "gzip"})
    assert css.status_code == 200 and css.headers["content-encoding"] == "gzip"
    assert "min-height:44px" in css.text  # the client unpacks it
    plain = client.get("/static/site.css", headers={"Accept-Encoding": "identity"})
    assert plain.headers.get("content-encoding") is None
    page = client.get("/login", headers={"Accept-Encoding": "gzip"})  # a form token beside reflected text: BREACH
    assert page.status_code == 200 and page.headers.get("content-encoding") is None
