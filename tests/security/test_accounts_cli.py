"""`lims user disable|enable|role|password|list` on the test database: clear refusals, tokens revoked at once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select
from typer.testing import CliRunner

from lims.cli.main import app as lims
from lims.models import AuditEvent, User
from lims.settings import get_settings
from tests.conftest import PASSWORD
from tests.security.accounts_helpers import TOKEN_URL, bearer, second_district, token_for

NEW_PASSWORD = "a-different-long-pass"


@pytest.fixture
def cli(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run `lims …` in-process against the test database; returns (exit code, stdout, stderr)."""
    monkeypatch.setenv("LIMS_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
        result = runner.invoke(lims, list(args), input=stdin)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout, result.stderr

    return run


def _user(session: Session, name: str) -> User:
    session.expire_all()
    return session.exec(select(User).where(User.username == name)).one()


def test_disable_and_enable_revoke_and_restore_sign_in(cli: Any, client: TestClient, session: Session) -> None:
    token = token_for(client, "tester")
    code, out, _err = cli("user", "disable", "tester")
    assert code == 0 and "disabled tester" in out and "1 sign-in(s) revoked" in out
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    assert client.post(TOKEN_URL, data={"username": "tester", "password": PASSWORD}).status_code == 401
    assert not _user(session, "tester").active

    code, out, _err = cli("user", "enable", "tester")
    assert code == 0 and "enabled tester" in out
    assert token_for(client, "tester")

    code, _out, err = cli("user", "enable", "tester")
    assert code == 1 and "already enabled" in err


def test_role_change_revokes_tokens(cli: Any, client: TestClient, session: Session) -> None:
    token = token_for(client, "tester")
    code, out, _err = cli("user", "role", "tester", "reviewer")
    assert code == 0 and "reviewer" in out
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    assert _user(session, "tester").role == "reviewer"

    code, _out, err = cli("user", "role", "tester", "station")
    assert code == 1 and "needs a station" in err
    code, _out, _err = cli("user", "role", "tester", "station", "--station", "ST02")
    assert code == 0
    assert _user(session, "tester").station_id is not None
    code, _out, _err = cli("user", "role", "tester", "boss")
    assert code == 2  # not a role: refused by the command line itself


def test_password_is_read_from_stdin_checked_and_revokes(cli: Any, client: TestClient) -> None:
    token = token_for(client, "reviewer")
    for weak, reason in (("short-one", "at least 12"), ("qwertyuiop123", "common"), ("station-demo-2026", "published")):
        code, _out, err = cli("user", "password", "reviewer", stdin=f"{weak}\n")
        assert code == 1 and reason in err, err
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 200  # refusals change nothing

    code, out, _err = cli("user", "password", "reviewer", stdin=f"{NEW_PASSWORD}\n")
    assert code == 0 and "set the password of reviewer" in out
    assert client.get("/api/v1/auth/me", headers=bearer(token)).status_code == 401
    assert client.post(TOKEN_URL, data={"username": "reviewer", "password": PASSWORD}).status_code == 401
    assert token_for(client, "reviewer", NEW_PASSWORD)


def test_unknown_users_and_the_last_administrator_are_refused(cli: Any, session: Session) -> None:
    for command in (("disable",), ("enable",), ("role",), ("password",)):
        args = ["user", *command, "nobody"] + (["tester"] if command == ("role",) else [])
        code, _out, err = cli(*args, stdin=f"{NEW_PASSWORD}\n")
        assert code == 1 and "unknown user 'nobody'" in err, (command, err)
        assert "Traceback" not in err

    code, _out, err = cli("user", "disable", "admin")
    assert code == 1 and "no active administrator" in err
    code, _out, err = cli("user", "role", "admin", "tester")
    assert code == 1 and "no active administrator" in err
    assert _user(session, "admin").active and _user(session, "admin").role == "admin"

    # With a second administrator the first may go.
    code, _out, _err = cli("user", "add", "admin2", "--role", "admin", stdin=f"{NEW_PASSWORD}\n")
    assert code == 0
    assert cli("user", "disable", "admin")[0] == 0
    code, _out, err = cli("user", "disable", "admin2")
    assert code == 1 and "no active administrator" in err


def test_add_refuses_weak_passwords_and_stations_of_another_district(cli: Any, session: Session) -> None:
    second_district(session)
    code, _out, err = cli("user", "add", "liwei", "--role", "tester", stdin="password1234\n")
    assert code == 1 and "common" in err
    code, _out, err = cli("user", "add", "liwei", "--role", "station", "--station", "YB01", stdin=f"{NEW_PASSWORD}\n")
    assert code == 1 and "unknown station 'YB01' in your district" in err  # another district's is unknown
    code, _out, _err = cli(
        "user", "add", "liwei", "--role", "station", "--station", "YB01", "--district", "YB", stdin=f"{NEW_PASSWORD}\n"
    )
    assert code == 0


def test_list_shows_every_account_and_whether_it_may_sign_in(cli: Any, session: Session) -> None:
    second_district(session)
    assert cli("user", "disable", "tester2")[0] == 0
    code, out, _err = cli("user", "list", "--json")
    assert code == 0
    rows = {row["username"]: row for row in json.loads(out)}
    assert {"tester", "admin", "admin_b", "tester_b"} <= set(rows)
    assert rows["tester2"]["active"] is False and rows["tester"]["active"] is True
    assert all("password_hash" not in row for row in rows.values())
    code, out, _err = cli("user", "list", "--district", "YB", "--json")
    assert {row["username"] for row in json.loads(out)} == {"admin_b", "tester_b"}


def test_console_changes_are_audited_as_the_system(cli: Any, session: Session) -> None:
    assert cli("user", "disable", "tester2")[0] == 0
    assert cli("user", "enable", "tester2")[0] == 0
    assert cli("user", "role", "tester2", "reviewer")[0] == 0
    assert cli("user", "password", "tester2", stdin=f"{NEW_PASSWORD}\n")[0] == 0
    user = _user(session, "tester2")
    events = session.exec(
        select(AuditEvent)
        .where(AuditEvent.entity == "app_user", AuditEvent.entity_id == user.id)
        .order_by(col(AuditEvent.id))
    ).all()
    assert [(e.action, e.actor) for e in events[-4:]] == [
        ("disable", "system"),
        ("enable", "system"),
        ("role", "system"),
        ("password", "system"),
    ]
