"""Links a page builds stay on this site whatever path or Referer the request carries (no open redirect via the
language switch of a 404 page)."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

import pytest
from fastapi.testclient import TestClient

HOSTILE_PATHS = [
    "//evil.example/x",
    "///evil.example/x",
    "/%2F%2Fevil.example/x",
    "/%5Cevil.example/x",
    "/%09/evil.example/x",
    "/trace/%2F%2Fevil.example",
    "/trace///evil.example",
]


def links_of(html: str) -> list[str]:
    """Every href and form action on a page."""
    return re.findall(r'(?:href|action)="([^"]*)"', html)


def assert_on_site(page_url: str, html: str) -> None:
    for link in links_of(html):
        target = urlsplit(urljoin(page_url, link.replace("&amp;", "&")))
        assert target.netloc == "testserver", (page_url, link)
        assert "\\" not in link and not re.match(r"^\s*/\s*/", link), (page_url, link)


@pytest.mark.parametrize("path", HOSTILE_PATHS)
def test_every_link_of_a_page_at_a_hostile_path_stays_on_site(client: TestClient, path: str) -> None:
    url = "http://testserver" + path
    page = client.get(url)
    assert page.status_code in (404, 422)
    lang = re.search(r'class="lang" href="([^"]+)"', page.text)
    assert lang is not None
    assert lang.group(1).startswith("/") and not lang.group(1).startswith("//")
    assert_on_site(url, page.text)


def test_the_404_language_link_of_a_protocol_relative_path(client: TestClient) -> None:
    page = client.get("http://testserver//evil.example/x")
    assert page.status_code == 404
    assert 'class="lang" href="/evil.example/x?lang=en"' in page.text


def test_language_link_after_a_form_post_ignores_a_hostile_referer(client: TestClient) -> None:
    client.get("/login")  # the browser's CSRF cookie
    for referer in ("http://testserver//evil.example/x", "http://testserver/\\evil.example/x", "https://evil.example/"):
        page = client.post(
            "/login", data={"username": "u", "password": "p", "csrf": "wrong"}, headers={"Referer": referer}
        )
        assert page.status_code == 403
        assert_on_site("http://testserver/login", page.text)


def test_language_link_keeps_the_page_and_its_filters(client: TestClient) -> None:
    page = client.get("/warnings?item=OPC&q=a%26b")
    lang = re.search(r'class="lang" href="([^"]+)"', page.text)
    assert lang is not None
    assert lang.group(1).replace("&amp;", "&") == "/warnings?item=OPC&q=a%26b&lang=en"
