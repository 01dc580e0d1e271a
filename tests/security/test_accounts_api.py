"""Accounts over the API: administrators manage their own district's users; every change revokes at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from lims.models import AuditEvent, User
from lims.services.access import auth
from lims.services.core.audit import SYSTEM
from tests.conftest import PASSWORD
from tests.security.accounts_helpers import TOKEN_URL, bearer, second_district, token_for
from tests.web.helpers import post_form, sign_in

NEW_PASSWORD = "a-different-long-pass"
# Every account operation: (method, path, JSON body).
OPERATIONS = [
    ("GET", "/api/v1/users", None),
    ("POST", "/api/v1/users", {"username": "liwei", "role": "tester", "password": NEW_PASSWORD}),
    ("POST", "/api/v1/users/tester2/disable", None),
    ("POST", "/api/v1/users/tester2/enable", None),
    ("POST", "/api/v1/users/tester2/role", {"role": "reviewer"}),
    ("POST", "/api/v1/users/tester2/password", {"password": NEW_PASSWORD}),
]


def _call(client: TestClient, method: str, path: str, body: Any, headers: dict[str, str]) -> Any:
    return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize("who", ["tester", "reviewer", "station"])
def test_only_administrators_manage_accounts(client: TestClient, headers: dict, who: str) -> None:
    for method, path, body in OPERATIONS:
        response = _call(client, method, path, body, headers[who])
        assert response.status_code == 403, (path, response.text)
        assert "admin" in response.json()["detail"]
    for method, path, body in OPERATIONS:
        assert _call(client, method, path, body, {}).status_code == 401


def test_administrator_lists_and_creates_accounts_of_their_district(
    client: TestClient, headers: dict, session: Session
) -> None:
    second_district(session)
    listed = client.get("/api/v1/users", headers=headers["admin"])
    assert listed.status_code == 200
    names = {u["username"] for u in listed.json()}
    assert {"tester", "reviewer", "station", "admin"} <= names
    assert not names & {"admin_b", "tester_b"}
    assert all("password_hash" not in u and u["active"] is True for u in listed.json())

    created = client.post(
        "/api/v1/users",
        json={"username": "liwei", "role": "station", "password": NEW_PASSWORD, "station_code": "ST02"},
        headers=headers["admin"],
    )
    assert created.status_code == 201, created.text
    admin = session.exec(select(User).where(User.username == "admin")).one()
    assert created.json()["district_id"] == admin.district_id
    assert token_for(client, "liwei", NEW_PASSWORD)

    # The other district's administrator sees only their own district.
    other = client.get("/api/v1/users", headers=bearer(token_for(client, "admin_b")))
    assert {u["username"] for u in other.json()} == {"admin_b", "tester_b"}


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"username": "liwei", "role": "tester", "password": "short-pass"}, 422, "at least 12"),
        ({"username": "liwei", "role": "tester", "password": "qwerty123456"}, 422, "common"),
        ({"username": "liwei", "role": "tester", "password": "QWERTYUIOP123"}, 422, "common"),
        ({"username": "liwei", "role": "admin", "password": "admin-demo-2026"}, 422, "published"),
        ({"username": "liwei", "role": "boss", "password": NEW_PASSWORD}, 422, "unknown role"),
        ({"username": "li wei", "role": "tester", "password": NEW_PASSWORD}, 422, "user name"),
        ({"username": "tester", "role": "tester", "password": NEW_PASSWORD}, 409, "already exists"),
        ({"username": "liwei", "role": "station", "password": NEW_PASSWORD}, 422, "station"),
        ({"username": "liwei", "role": "station", "password": NEW_PASSWORD, "station_code": "YB01"}, 404, "unknown"),
        ({"username": "liwei", "role": "station", "password": NEW_PASSWORD, "station_code": "NOPE"}, 404, "station"),
    ],
)
def test_new_account_refusals(
    client: TestClient, headers: dict, session: Session, body: dict, status: int, reason: str
) -> None:
    second_district(session)
    response = client.post("/api/v1/users", json=body, headers=headers["admin"])
    assert response.status_code == status, response.text
    assert reason in response.json()["detail"]
    assert session.exec(select(User).where(User.username == "liwei")).first() is None


def test_changes_refused_for_unknown_other_district_and_own_account(
    client: TestClient, headers: dict, session: Session
) -> None:
    second_district(session)
    admin = headers["admin"]
    for action, body in (("disable", None), ("enable", None), ("role", {"role": "tester"}), ("password", None)):
        payload = {"password": NEW_PASSWORD} if action == "password" else body
        for name in ("nobody", "tester_b", "admin_b"):
            response = client.post(f"/api/v1/users/{name}/{action}", json=payload, headers=admin)
            assert response.status_code == 404, (name, action, response.text)
            assert "unknown user" in response.json()["detail"]
    # The other district's accounts are untouched.
    tester_b = session.exec(select(User).where(User.username == "tester_b")).one()
    assert tester_b.active and tester_b.role == "tester"

    own_disable = client.post("/api/v1/users/admin/disable", headers=admin)
    assert own_disable.status_code == 409 and "your own account" in own_disable.json()["detail"]
    own_demote = client.post("/api/v1/users/admin/role", json={"role": "tester"}, headers=admin)
    assert own_demote.status_code == 409 and "your own account" in own_demote.json()["detail"]
    weak = client.post("/api/v1/users/tester/password", json={"password": "password1234"}, headers=admin)
    assert weak.status_code == 422 and "common" in weak.json()["detail"]
    short = client.post("/api/v1/users/tester/password", json={"password": "too-short"}, headers=admin)
    assert short.status_code == 422 and "at least" in short.json()["detail"]
    no_station = client.post("/api/v1/users/tester/role", json={"role": "station"}, headers=admin)
    assert no_station.status_code == 422 and "station" in no_station.json()["detail"]
    same = client.post("/api/v1/users/tester/role", json={"role": "tester"}, headers=admin)
    assert same.status_code == 409
    assert client.post("/api/v1/users/tester/enable", headers=admin).status_code == 409  # already enabled
    assert client.post("/api/v1/users/tester/disable", headers=admin).status_code == 200
    again = client.post("/api/v1/users/tester/disable", headers=admin)
    assert again.status_code == 409 and "already disabled" in again.json()["detail"]
    too_long = client.post(f"/api/v1/users/{'x' * 65}/disable", headers=admin)
    assert too_long.status_code == 422


def test_disable_enable_role_and_password_revoke_tokens_at_once(app: Any, client: TestClient, headers: dict) -> None:
    admin = headers["admin"]
    api_token = token_for(client, "tester")
    page = sign_in(app, "tester")
    assert page.get("/vehicle", follow_redirects=False).status_code == 200

    disabled = client.post("/api/v1/users/tester/disable", headers=admin)
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["active"] is False and disabled.json()["sessions_revoked"] == 3
    assert client.get("/api/v1/auth/me", headers=bearer(api_token)).status_code == 401
    assert client.get("/api/v1/auth/me", headers=headers["tester"]).status_code == 401
    assert page.get("/vehicle", follow_redirects=False).headers["location"].startswith("/login")
    assert client.post(TOKEN_URL, data={"username": "tester", "password": PASSWORD}).status_code == 401

    assert client.post("/api/v1/users/tester/enable", headers=admin).json()["active"] is True
    assert client.get("/api/v1/auth/me", headers=bearer(api_token)).status_code == 401  # revoked stays revoked
    api_token = token_for(client, "tester")
    page = sign_in(app, "tester")

    changed = client.post("/api/v1/users/tester/role", json={"role": "reviewer"}, headers=admin)
    assert changed.status_code == 200 and changed.json()["role"] == "reviewer"
    assert changed.json()["sessions_revoked"] == 2
    assert client.get("/api/v1/auth/me", headers=bearer(api_token)).status_code == 401
    assert page.get("/vehicle", follow_redirects=False).headers["location"].startswith("/login")
    fresh = token_for(client, "tester")
    assert client.get("/api/v1/auth/me", headers=bearer(fresh)).json()["role"] == "reviewer"

    page = sign_in(app, "tester")
    reset = client.post("/api/v1/users/tester/password", json={"password": NEW_PASSWORD}, headers=admin)
    assert reset.status_code == 200 and reset.json()["sessions_revoked"] == 2
    assert client.get("/api/v1/auth/me", headers=bearer(fresh)).status_code == 401
    assert page.get("/review", follow_redirects=False).headers["location"].startswith("/login")
    assert client.post(TOKEN_URL, data={"username": "tester", "password": PASSWORD}).status_code == 401
    assert token_for(client, "tester", NEW_PASSWORD)
    # Other users' tokens are untouched.
    assert client.get("/api/v1/auth/me", headers=headers["reviewer"]).status_code == 200


def test_a_signed_out_cookie_token_is_refused_as_a_bearer_token(app: Any) -> None:
    browser = sign_in(app, "reviewer")
    token = browser.cookies["lims_session"]
    api = TestClient(app)
    assert api.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200
    out = post_form(browser, "/review", "/logout")
    assert out.status_code == 303
    refused = api.get("/api/v1/auth/me", headers=bearer(token))
    assert refused.status_code == 401 and "signed out" in refused.json()["detail"]
    replayed = TestClient(app, cookies={"lims_session": token})
    assert replayed.get("/review", follow_redirects=False).headers["location"].startswith("/login")


def test_two_administrators_disabling_each_other_leave_one(app: Any, session: Session) -> None:
    auth.add_user(session, SYSTEM, "admin2", "admin", PASSWORD)
    session.commit()
    client = TestClient(app)
    tokens = {name: token_for(client, name) for name in ("admin", "admin2")}
    start = threading.Barrier(2)

    def disable(actor: str, target: str) -> int:
        start.wait()
        return TestClient(app).post(f"/api/v1/users/{target}/disable", headers=bearer(tokens[actor])).status_code

    with ThreadPoolExecutor(2) as pool:
        statuses = sorted(pool.map(disable, ["admin", "admin2"], ["admin2", "admin"]))
    assert statuses[0] == 200 and statuses[1] in (401, 409), statuses
    session.expire_all()
    active_admins = session.exec(
        select(func.count()).select_from(User).where(col(User.role) == "admin", col(User.active).is_(True))
    ).one()
    assert active_admins == 1


def test_account_changes_are_audited(client: TestClient, headers: dict, session: Session) -> None:
    admin = headers["admin"]
    assert client.post("/api/v1/users/tester2/disable", headers=admin).status_code == 200
    assert client.post("/api/v1/users/tester2/enable", headers=admin).status_code == 200
    assert client.post("/api/v1/users/tester2/role", json={"role": "reviewer"}, headers=admin).status_code == 200
    reset = client.post("/api/v1/users/tester2/password", json={"password": NEW_PASSWORD}, headers=admin)
    assert reset.status_code == 200
    user = session.exec(select(User).where(User.username == "tester2")).one()
    events = session.exec(
        select(AuditEvent)
        .where(AuditEvent.entity == "app_user", AuditEvent.entity_id == user.id)
        .order_by(col(AuditEvent.id))
    ).all()
    assert [e.action for e in events][-4:] == ["disable", "enable", "role", "password"]
    assert {e.actor for e in events[-4:]} == {"admin"}
