"""Sign-in for pages: cookie flags, roles on every page, CSRF on every form, safe redirects."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.conftest import PASSWORD
from tests.web.helpers import csrf_of, post_form, sign_in

# Every signed-in page and the one role that may open it.
ROLE_PAGES = {
    "/review": "reviewer",
    "/station": "station",
    "/station/results.csv": "station",
    "/vehicle": "tester",
    "/vehicle/events?seconds=1": "tester",
}
# Every form POST: (path, the role allowed to use it).
FORM_POSTS = {
    "/review/results/1/approve": "reviewer",
    "/review/warnings": "reviewer",
    "/station/cases/1/accept": "station",
    "/station/notifications/read": "station",
    "/vehicle/samples": "tester",
    "/vehicle/held/1/assign": "tester",
    "/logout": "tester",
}
ROLES = ("tester", "reviewer", "station", "admin")


def test_login_sets_http_only_same_site_cookie(app: Any) -> None:
    client = TestClient(app)
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": "reviewer", "password": PASSWORD, "csrf": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/review"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("lims_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie


def test_bad_password_is_a_clear_message(app: Any) -> None:
    client = TestClient(app)
    page = client.get("/login?lang=zh")
    response = client.post("/login", data={"username": "reviewer", "password": "wrong", "csrf": csrf_of(page.text)})
    assert response.status_code == 401
    assert "用户名或密码不正确" in response.text
    assert "lims_session" not in client.cookies


def test_login_without_csrf_token_is_refused(app: Any) -> None:
    client = TestClient(app)
    client.get("/login")
    response = client.post("/login", data={"username": "reviewer", "password": PASSWORD}, follow_redirects=False)
    assert response.status_code == 403
    assert "<html" in response.text and "Traceback" not in response.text


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/station?point=P05", "/station?point=P05"),
        ("//evil.example/x", "/station"),
        ("https://evil.example", "/station"),
    ],
)
def test_next_is_only_ever_a_local_path(app: Any, target: str, expected: str) -> None:
    client = TestClient(app)
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": "station", "password": PASSWORD, "csrf": csrf_of(page.text), "next": target},
        follow_redirects=False,
    )
    assert response.headers["location"] == expected


@pytest.mark.parametrize("path", sorted(ROLE_PAGES))
def test_anonymous_visitors_are_sent_to_sign_in(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=%2F")


@pytest.mark.parametrize("path", sorted(ROLE_PAGES))
def test_every_page_enforces_its_role(app: Any, path: str) -> None:
    for role in ROLES:
        client = sign_in(app, role)
        response = client.get(path, follow_redirects=False)
        if role == ROLE_PAGES[path]:
            assert response.status_code == 200, (role, path, response.text[:300])
        else:
            assert response.status_code == 403, (role, path)
            assert "无权进行此操作" in response.text


@pytest.mark.parametrize("path", sorted(FORM_POSTS))
def test_every_form_needs_the_session_csrf_token(app: Any, path: str) -> None:
    client = sign_in(app, FORM_POSTS[path])
    assert client.post(path, data={}, follow_redirects=False).status_code == 403
    assert client.post(path, data={"csrf": "forged"}, follow_redirects=False).status_code == 403
    other = sign_in(app, FORM_POSTS[path])  # another browser session of the same user
    foreign = csrf_of(other.get("/warnings").text)
    assert client.post(path, data={"csrf": foreign}, follow_redirects=False).status_code == 403


def test_forms_of_other_roles_are_refused_even_with_a_token(app: Any) -> None:
    client = sign_in(app, "station")
    response = post_form(client, "/station", "/review/results/1/approve")
    assert response.status_code == 403


def test_logout_forgets_the_session(app: Any) -> None:
    client = sign_in(app, "tester")
    assert client.get("/vehicle").status_code == 200
    response = post_form(client, "/vehicle", "/logout")
    assert response.status_code == 303
    assert "lims_session" not in client.cookies
    assert client.get("/vehicle", follow_redirects=False).status_code == 303


def test_expired_or_forged_session_cookie_means_sign_in_again(app: Any) -> None:
    client = TestClient(app, cookies={"lims_session": "not-a-token"})
    response = client.get("/review", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


@pytest.mark.parametrize("path", ["/", "/trace", "/warnings", "/login"])
def test_public_pages_in_chinese_and_english(client: TestClient, path: str) -> None:
    zh = client.get(path)
    assert zh.status_code == 200 and 'lang="zh-CN"' in zh.text and "食品快检" in zh.text
    en = client.get(f"{path}?lang=en")
    assert 'lang="en"' in en.text and "Food quick-test" in en.text
    assert 'lang="en"' in client.get(path).text  # the choice is remembered in a cookie


@pytest.mark.parametrize(
    ("role", "path", "zh", "en"),
    [
        ("reviewer", "/review", "待审核结果", "Results to review"),
        ("station", "/station", "共享检测结果", "Shared results"),
        ("tester", "/vehicle", "检测车工作台", "Vehicle console"),
    ],
)
def test_staff_pages_in_chinese_and_english(app: Any, role: str, path: str, zh: str, en: str) -> None:
    client = sign_in(app, role)
    chinese = client.get(path)
    assert 'lang="zh-CN"' in chinese.text and zh in chinese.text
    english = client.get(f"{path}?lang=en")
    assert 'lang="en"' in english.text and en in english.text and zh not in english.text


def test_language_switch_keeps_the_page_and_its_filters(app: Any) -> None:
    station = sign_in(app, "station")
    page = station.get("/station?point=P05&judgement=positive")
    assert 'class="lang" href="/station?point=P05&amp;judgement=positive&amp;lang=en"' in page.text
    english = station.get("/station?point=P05&lang=en")
    assert 'class="lang" href="/station?point=P05&amp;lang=zh"' in english.text
    refused = post_form(station, "/station?point=P05", "/station/cases/999/accept")
    assert refused.status_code == 404
    assert 'class="lang" href="/?lang=zh"' in refused.text  # no Referer from the test client: the home page
    with_referer = station.post(
        "/station/cases/999/accept",
        data={"csrf": csrf_of(page.text)},
        headers={"Referer": "http://testserver/station?point=P05"},
    )
    assert 'class="lang" href="/station?point=P05&amp;lang=zh"' in with_referer.text  # English is remembered
