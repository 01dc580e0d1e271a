"""Helpers for page tests: sign in through the form, read the CSRF token from a page."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import PASSWORD

CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token in the first form of a page."""
    match = CSRF_RE.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


def sign_in(app: Any, username: str) -> TestClient:
    """A new browser-like client signed in as `username` through the sign-in form."""
    client = TestClient(app)
    page = client.get("/login")
    assert page.status_code == 200
    response = client.post(
        "/login",
        data={"username": username, "password": PASSWORD, "csrf": csrf_of(page.text), "next": ""},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


def post_form(client: TestClient, page_url: str, action: str, data: dict[str, Any] | None = None) -> Any:
    """POST a form to `action` with the CSRF token taken from `page_url`, without following the redirect."""
    token = csrf_of(client.get(page_url).text)
    return client.post(action, data={"csrf": token, **(data or {})}, follow_redirects=False)


def actor_of(session: Any, username: str) -> Any:
    """The audit actor of a test user, for calling services directly."""
    from sqlmodel import select

    from lims.models import User
    from lims.services.access import auth

    return auth.actor_for(session.exec(select(User).where(User.username == username)).one())
