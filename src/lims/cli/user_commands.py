"""User commands: `lims user add|list|disable|enable|role|password`; passwords are read from stdin."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from sqlmodel import Session

from lims.cli.common import read_secret, ready_engine, reporting_errors
from lims.models.common import Role
from lims.services.access import accounts, auth
from lims.services.access.accounts import Changed
from lims.services.core.audit import SYSTEM

user_app = typer.Typer(no_args_is_help=True, help="Users: accounts, roles, passwords.")


def _report(changed: Changed, what: str) -> None:
    user = changed.user
    revoked = f"; {changed.sessions_revoked} sign-in(s) revoked" if changed.sessions_revoked else ""
    typer.echo(f"{what} {user.username} ({user.role}, {'active' if user.active else 'disabled'}){revoked}")


@user_app.command("add")
def add(
    name: str,
    role: Annotated[Role, typer.Option(help="tester, reviewer, station or admin")],
    station: Annotated[str | None, typer.Option(help="station code, for station users")] = None,
    district: Annotated[str | None, typer.Option(help="district code (default: the first one)")] = None,
    full_name: Annotated[str, typer.Option()] = "",
) -> None:
    """Add a user; the password is read from stdin."""
    engine = ready_engine()
    password = read_secret("Password")
    with reporting_errors(), Session(engine, expire_on_commit=False) as session:
        user = auth.add_user(
            session,
            SYSTEM,
            name,
            role.value,
            password,
            station_code=station,
            district_code=district,
            full_name=full_name,
        )
        session.commit()
        typer.echo(f"added {user.username} ({user.role})")


@user_app.command("list")
def list_users(
    district: Annotated[str | None, typer.Option(help="only this district's users")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON array")] = False,
) -> None:
    """Every account: name, role, district, station, and whether it may sign in."""
    engine = ready_engine()
    with reporting_errors(), Session(engine, expire_on_commit=False) as session:
        users = accounts.list_users(session, SYSTEM, district_code=district)
    rows = [
        {
            "username": u.username,
            "role": u.role,
            "active": u.active,
            "district_id": u.district_id,
            "station_id": u.station_id,
            "full_name": u.full_name,
        }
        for u in users
    ]
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False))
        return
    for row in rows:
        typer.echo(f"{row['username']:<24} {row['role']:<9} {'active' if row['active'] else 'disabled'}")


@user_app.command("disable")
def disable(name: str) -> None:
    """Disable an account; its tokens stop working at once."""
    engine = ready_engine()
    with reporting_errors(), Session(engine, expire_on_commit=False) as session:
        changed = accounts.disable(session, SYSTEM, name)
        session.commit()
    _report(changed, "disabled")


@user_app.command("enable")
def enable(name: str) -> None:
    """Let a disabled account sign in again."""
    engine = ready_engine()
    with reporting_errors(), Session(engine, expire_on_commit=False) as session:
        changed = accounts.enable(session, SYSTEM, name)
        session.commit()
    _report(changed, "enabled")


@user_app.command("role")
def role(
    name: str,
    new_role: Annotated[Role, typer.Argument(metavar="ROLE", help="tester, reviewer, station or admin")],
    station: Annotated[str | None, typer.Option(help="station code, for the station role")] = None,
) -> None:
    """Give an account another role; its tokens stop working at once."""
    engine = ready_engine()
    with reporting_errors(), Session(engine, expire_on_commit=False) as session:
        changed = accounts.set_role(session, SYSTEM, name, new_role.value, station_code=station)
        session.commit()
    _report(changed, "changed the role of")


@user_app.command("password")
def password(name: str) -> None:
    """Set a new password, read from stdin; every sign-in of the user is revoked."""
    engine = ready_engine()
    secret = read_secret("New password")
    with reporting_errors(), Session(engine, expire_on_commit=False) as session:
        changed = accounts.set_password(session, SYSTEM, name, secret)
        session.commit()
    _report(changed, "set the password of")


def register(app: typer.Typer) -> None:
    """Add the user commands to the `lims` app."""
    app.add_typer(user_app, name="user")
