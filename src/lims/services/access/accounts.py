"""Account management for administrators and the console: list, create, disable, enable, change a role or a
password. Each change is a conditional update, audited, and revokes the user's sign-ins at once.

Rules: administrators manage the accounts of their own district only (others are not found); nobody may
disable or demote their own account; and no change may leave a district without an active administrator
(add another one first). The console acts as the system and may manage every district.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from lims.i18n import _N, Message
from lims.models import District, User
from lims.models.common import Role
from lims.models.users import UserCreate
from lims.services.access import auth, districts, passwords
from lims.services.core import atomic, audit
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, Invalid, NotFound

# Why a user's sessions were revoked, as stored in user_session.revoked_reason.
REVOKED_BY = {"disable": "account disabled", "role": "role changed", "password": "password changed"}

GATEWAY_USER = "instrument-gateway"  # the technical account instrument results are recorded under


def is_gateway(username: str) -> bool:
    """Whether `username` is one of the districts' instrument-gateway accounts, which never sign in."""
    return username == GATEWAY_USER or username.startswith(f"{GATEWAY_USER}-")


@dataclass(frozen=True)
class Changed:
    """An account after a change, and how many of its sign-ins the change revoked."""

    user: User
    sessions_revoked: int


def _is_system(by: Actor) -> bool:
    return by.role == "system"


def _district_of(by: Actor) -> int | None:
    """The district whose accounts `by` manages (None: every district)."""
    return None if _is_system(by) else by.district_id


def list_users(session: Session, by: Actor, *, district_code: str | None = None) -> list[User]:
    """The accounts of the administrator's district (the console: of every district, or of one)."""
    auth.require_role(by, Role.ADMIN)
    query = select(User).order_by(col(User.username))
    district_id = _district_of(by)
    if district_id is not None:
        query = query.where(col(User.district_id) == district_id)
    elif district_code:
        query = query.where(col(User.district_id) == districts.named(session, district_code).id)
    return list(session.exec(query).all())


def create(session: Session, by: Actor, data: UserCreate) -> User:
    """A new account; an administrator's new accounts belong to the administrator's own district."""
    auth.require_role(by, Role.ADMIN)
    district_id = _district_of(by)
    district = session.get(District, district_id) if district_id is not None else None
    if district_id is not None and district is None:
        raise NotFound("accounts.your_district_no_longer", _N("your district no longer exists"))
    return auth.add_user(
        session,
        by,
        data.username,
        data.role,
        data.password,
        district_code=district.code if district else None,
        station_code=data.station_code,
        full_name=data.full_name,
    )


def _target(session: Session, by: Actor, username: str) -> User:
    """The account `by` may manage, with its district locked for the change; NotFound outside the district."""
    auth.require_role(by, Role.ADMIN)
    user = session.exec(select(User).where(User.username == username)).first()
    district_id = _district_of(by)
    if user is None or (district_id is not None and user.district_id != district_id):
        raise NotFound("accounts.unknown_user", _N("unknown user {username!r}"), username=username)
    # Serialise account changes per district (PostgreSQL; SQLite writes are serial anyway), so two
    # administrators demoting each other cannot both pass the last-administrator check.
    session.exec(
        select(District.id).where(col(District.id) == user.district_id).with_for_update(key_share=True)
    ).first()
    session.refresh(user)
    return user


def _not_self(by: Actor, user: User, what: str) -> None:
    if by.user_id is not None and by.user_id == user.id:
        raise Conflict(
            "accounts.you_cannot_your_own",
            _N("you cannot {what} your own account; another administrator or the console can"),
            what=what,
        )


def _change(session: Session, user: User, expected: dict[str, Any], values: dict[str, Any], why: Message) -> None:
    """Update the user row only if it still holds `expected`; 409 when someone changed it meanwhile."""
    if not atomic.update_where(session, user, expected, values):
        raise Conflict("accounts.changed_meanwhile", _N("{problem}"), problem=why)


_ALREADY = {
    "disabled": _N("user {username!r} is already disabled"),
    "enabled": _N("user {username!r} is already enabled"),
}


def _already(state: str, user: User) -> Message:
    """The refusal to put an account into the state it is in."""
    return Message(_ALREADY[state], {"username": user.username})


def _keep_an_admin(session: Session, user: User) -> None:
    """409 when the change (already applied in this transaction) leaves the district with no active admin."""
    left = session.exec(
        select(func.count())
        .select_from(User)
        .where(col(User.district_id) == user.district_id, col(User.role) == Role.ADMIN, col(User.active).is_(True))
    ).one()
    if not left:
        raise Conflict(
            "accounts.district_would_have_no",
            _N("the district would have no active administrator left; add another administrator first"),
        )


def _finish(session: Session, by: Actor, user: User, action: str, before: dict[str, Any]) -> Changed:
    revoked = auth.revoke_sessions(session, int(user.id or 0), REVOKED_BY[action]) if action in REVOKED_BY else 0
    audit.record(session, by, user, action, before)
    return Changed(user, revoked)


def disable(session: Session, by: Actor, username: str) -> Changed:
    """Disable an account: it can no longer sign in, and its tokens stop working at once."""
    user = _target(session, by, username)
    _not_self(by, user, "disable")
    before = audit.snapshot(user)
    _change(session, user, {"active": True}, {"active": False}, _already("disabled", user))
    if user.role == Role.ADMIN:
        _keep_an_admin(session, user)
    return _finish(session, by, user, "disable", before)


def enable(session: Session, by: Actor, username: str) -> Changed:
    """Let a disabled account sign in again (with its old password; set a new one if it may be known)."""
    user = _target(session, by, username)
    if is_gateway(user.username):
        raise Conflict(
            "accounts.records_instrument_results_never",
            _N("{user_username!r} records instrument results and never signs in"),
            user_username=user.username,
        )
    before = audit.snapshot(user)
    _change(session, user, {"active": False}, {"active": True}, _already("enabled", user))
    return _finish(session, by, user, "enable", before)


def set_role(session: Session, by: Actor, username: str, role: str, *, station_code: str | None = None) -> Changed:
    """Give an account another role (a station user needs a station of the district); tokens are revoked."""
    new = auth.check_role(role)
    user = _target(session, by, username)
    station_id = user.station_id
    if station_code:
        station_id = auth.station_in(session, station_code, user.district_id).id
    elif new == Role.STATION and station_id is None:
        raise Invalid("accounts.station_user_needs_station", _N("a station user needs a station (--station CODE)"))
    if new == user.role and station_id == user.station_id:
        raise Conflict(
            "accounts.user_already_has_role",
            _N("user {user_username!r} already has the role {new_value}"),
            user_username=user.username,
            new_value=new.value,
        )
    if user.role == Role.ADMIN and new != Role.ADMIN:
        _not_self(by, user, "demote")
    before = audit.snapshot(user)
    _change(
        session,
        user,
        {"role": user.role, "station_id": user.station_id},
        {"role": new.value, "station_id": station_id},
        Message(
            _N("the role of {username!r} was changed meanwhile; reload and try again"), {"username": user.username}
        ),
    )
    if before["role"] == Role.ADMIN:
        _keep_an_admin(session, user)
    return _finish(session, by, user, "role", before)


def set_password(session: Session, by: Actor, username: str, password: str) -> Changed:
    """Set a new password (checked against the policy); every sign-in of the user is revoked."""
    auth.require_role(by, Role.ADMIN)
    passwords.check(password)
    user = _target(session, by, username)
    old_hash = user.password_hash
    before = audit.snapshot(user)
    new_hash = passwords.hash_password(password)
    _change(
        session,
        user,
        {"password_hash": old_hash},
        {"password_hash": new_hash},
        Message(_N("the password of {username!r} was changed meanwhile"), {"username": user.username}),
    )
    return _finish(session, by, user, "password", before)
