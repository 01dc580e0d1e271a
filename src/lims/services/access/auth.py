"""Who someone is: user creation, sign-in (throttled, bounded hashing), revocable tokens, role checks."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, update
from sqlalchemy.engine import CursorResult, Result
from sqlmodel import Session, col, select

from lims.i18n import _N, Message
from lims.models import Station, User, UserSession
from lims.models.common import Role
from lims.services.access import cached_credentials, districts, passwords
from lims.services.access.throttle import SignInThrottle
from lims.services.core import audit, clock
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, Forbidden, Invalid, NotFound, TooManyRequests, Unauthorized
from lims.settings import get_settings

TOKEN_SALT = "lims-access-token"
MAX_USERNAME = 64
BAD_LOGIN = _N("incorrect user name or password")
# Why a session ended, as stored in user_session.revoked_reason.
SIGNED_OUT = "signed out"
hash_password = passwords.hash_password


def actor_for(user: User) -> Actor:
    """The audit actor for a signed-in user."""
    return Actor(
        name=user.username,
        role=user.role,
        user_id=user.id,
        district_id=user.district_id,
        station_id=user.station_id,
    )


def username_problem(username: str) -> Message | None:
    """Why `username` cannot name an account, or None."""
    plain = username.replace("-", "").replace("_", "").replace(".", "")
    if not username or len(username) > MAX_USERNAME or not plain.isalnum():
        return Message(_N("user name must be 1-{most} letters, digits, '.', '-' or '_'"), {"most": MAX_USERNAME})
    return None


def check_role(role: str) -> Role:
    """The role named `role`, or Invalid."""
    try:
        return Role(role)
    except ValueError:
        raise Invalid(
            "auth.unknown_role_choose_one",
            _N("unknown role {role!r}; choose one of {roles}"),
            role=role,
            roles=", ".join(r.value for r in Role),
        ) from None


def station_in(session: Session, station_code: str, district_id: int) -> Station:
    """The station with this code in the district (codes are unique per district), or NotFound."""
    station = districts.station(session, district_id, station_code)
    if station is None:
        raise NotFound(
            "auth.unknown_station_your_district",
            _N("unknown station {station_code!r} in your district"),
            station_code=station_code,
        )
    return station


def add_user(
    session: Session,
    by: Actor,
    username: str,
    role: str,
    password: str,
    *,
    district_code: str | None = None,
    station_code: str | None = None,
    full_name: str = "",
    published_password_ok: bool = False,
) -> User:
    """Create a user; station users must name their station, which must be in the user's district.

    `published_password_ok` is for the demo alone: its accounts have published passwords by design.
    """
    check_role(role)
    passwords.check(password, published_ok=published_password_ok)
    reason = username_problem(username)
    if reason:
        raise Invalid("auth.username", _N("{problem}"), problem=reason)
    if session.exec(select(User).where(User.username == username)).first():
        raise Conflict("auth.user_already_exists", _N("user {username!r} already exists"), username=username)
    district_id = int(districts.named_or_first(session, district_code).id or 0)
    station_id = None
    if station_code:
        station_id = station_in(session, station_code, district_id).id
    elif role == Role.STATION:
        raise Invalid("auth.station_user_needs_station", _N("a station user needs a station (--station CODE)"))
    user = User(
        username=username,
        full_name=full_name,
        role=role,
        password_hash=passwords.hash_password(password),
        district_id=district_id,
        station_id=station_id,
    )
    session.add(user)
    session.flush()
    audit.record(session, by, user, "create", None)
    return user


# --------------------------------------------------------------------------- sign-in


@dataclass(frozen=True)
class SignedIn:
    """A successful sign-in: the user and a new bearer token."""

    user: User
    token: str


def sign_in(session: Session, throttle: SignInThrottle, username: str, password: str, address: str) -> SignedIn:
    """Check the credentials: 429 while the account or the address is locked (no hash computed), 503 when
    too many hashes are running, 401 for a wrong name or password. The API and the sign-in page share it."""
    _refuse_if_locked(throttle, username, address)
    user = None
    if len(username) <= MAX_USERNAME and len(password) <= passwords.MAX_LENGTH:
        user = session.exec(select(User).where(User.username == username)).first()
    # A vehicle node signs in from its copy of the centre's accounts, and says why a right password is refused.
    node = get_settings().is_node
    usable = user is not None and (user.active or node)
    with passwords.slot():
        # Checked again once a slot is held: those who queued for one may have been locked meanwhile.
        _refuse_if_locked(throttle, username, address)
        matches = passwords.verify(user.password_hash if user is not None and usable else None, password)
    if user is None or not usable or not matches:
        throttle.failed(username, address)
        raise Unauthorized("auth.bad_login", BAD_LOGIN)
    if node:
        cached_credentials.refuse_unusable(session, user)
    throttle.succeeded(username)
    return SignedIn(user, issue_token(session, user))


def _refuse_if_locked(throttle: SignInThrottle, username: str, address: str) -> None:
    lock = throttle.lock(username, address)
    if lock is not None:
        minutes = max(1, round(lock.retry_after / 60))
        message = (
            _N("too many failed sign-ins for this account; try again in {minutes} minute(s)")
            if lock.scope == "account"
            else _N("too many failed sign-ins from this address; try again in {minutes} minute(s)")
        )
        raise TooManyRequests(
            "auth.locked",
            message,
            details={"retry_after": lock.retry_after, "locked": lock.scope},
            retry_after=lock.retry_after,
            minutes=minutes,
        )


# --------------------------------------------------------------------------- tokens and their sessions


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().resolved_secret_key(), salt=TOKEN_SALT)


def issue_token(session: Session, user: User) -> str:
    """A signed bearer token for `user`, backed by a new session row (the caller commits)."""
    now = clock.now()
    session.execute(delete(UserSession).where(col(UserSession.user_id) == user.id, col(UserSession.expires_at) < now))
    row = UserSession(
        key=secrets.token_urlsafe(24),
        user_id=int(user.id or 0),
        created_at=now,
        expires_at=now + timedelta(minutes=get_settings().token_minutes),
    )
    session.add(row)
    session.flush()
    return _serializer().dumps({"s": row.key})


def _session_key(token: str) -> str:
    try:
        data = _serializer().loads(token, max_age=get_settings().token_minutes * 60)
    except SignatureExpired:
        raise Unauthorized("auth.token_expired_sign_again", _N("token expired; sign in again")) from None
    except BadSignature:
        raise Unauthorized("auth.invalid_token", _N("invalid token")) from None
    key = data.get("s") if isinstance(data, dict) else None
    if not isinstance(key, str):
        raise Unauthorized("auth.invalid_token_sign_again", _N("invalid token; sign in again"))
    return key


def user_from_token(session: Session, token: str) -> User:
    """The active user a valid, unexpired, unrevoked token was issued to (one indexed lookup)."""
    found = session.exec(
        select(User, UserSession)
        .join(UserSession, col(UserSession.user_id) == col(User.id))
        .where(col(UserSession.key) == _session_key(token))
    ).first()
    if found is None:
        raise Unauthorized("auth.invalid_token", _N("invalid token"))
    user, row = found
    if row.revoked_at is not None:
        raise Unauthorized(
            "auth.token_revoked_sign_again",
            _N("token revoked ({why}); sign in again"),
            why=row.revoked_reason or "revoked",
        )
    if row.expires_at <= clock.now():
        raise Unauthorized("auth.token_expired_sign_again", _N("token expired; sign in again"))
    if not user.active:
        raise Unauthorized("auth.invalid_token", _N("invalid token"))
    return user


def sign_out(session: Session, token: str) -> bool:
    """Revoke the session behind `token` (the caller commits); False when it was no longer valid."""
    try:
        key = _session_key(token)
    except Unauthorized:
        return False
    done = session.execute(
        update(UserSession)
        .where(col(UserSession.key) == key, col(UserSession.revoked_at).is_(None))
        .values(revoked_at=clock.now(), revoked_reason=SIGNED_OUT)
    )
    return rowcount(done) > 0


def revoke_sessions(session: Session, user_id: int, reason: str) -> int:
    """Revoke every live session of a user at once (the caller commits); how many were live."""
    now = clock.now()
    done = session.execute(
        update(UserSession)
        .where(
            col(UserSession.user_id) == user_id,
            col(UserSession.revoked_at).is_(None),
            col(UserSession.expires_at) > now,
        )
        .values(revoked_at=now, revoked_reason=reason[:32])
    )
    return rowcount(done)


def rowcount(result: Result[Any]) -> int:
    """How many rows an UPDATE or DELETE statement matched."""
    return int(cast(CursorResult[Any], result).rowcount or 0)


def require_role(actor: Actor, *roles: Role) -> None:
    """Forbidden unless the actor has one of `roles` (the console's system actor may do anything)."""
    if actor.role == "system":
        return
    if actor.role not in {r.value for r in roles}:
        raise Forbidden(
            "auth.role_may_do_needs",
            _N("role {actor_role!r} may not do this; needs {roles}"),
            actor_role=actor.role,
            roles=" or ".join(r.value for r in roles),
        )
