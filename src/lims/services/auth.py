"""Users, password hashing (argon2) and signed bearer tokens; role checks for every action."""

from __future__ import annotations

import contextlib

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlmodel import Session, col, select

from lims.models import District, Station, User
from lims.models.common import Role
from lims.services import audit
from lims.services.audit import Actor
from lims.services.errors import Conflict, Forbidden, Invalid, NotFound, Unauthorized
from lims.settings import get_settings

_hasher = PasswordHasher()
TOKEN_SALT = "lims-access-token"
MIN_PASSWORD = 8


def hash_password(password: str) -> str:
    """An argon2id hash of `password`."""
    return _hasher.hash(password)


def actor_for(user: User) -> Actor:
    """The audit actor for a signed-in user."""
    return Actor(
        name=user.username,
        role=user.role,
        user_id=user.id,
        district_id=user.district_id,
        station_id=user.station_id,
    )


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
) -> User:
    """Create a user; station users must name their station."""
    if role not in {r.value for r in Role}:
        raise Invalid(f"unknown role {role!r}; choose one of {', '.join(r.value for r in Role)}")
    if len(password) < MIN_PASSWORD:
        raise Invalid(f"password must have at least {MIN_PASSWORD} characters")
    if not username or len(username) > 64 or not username.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise Invalid("user name must be 1-64 letters, digits, '.', '-' or '_'")
    if session.exec(select(User).where(User.username == username)).first():
        raise Conflict(f"user {username!r} already exists")
    district = (
        session.exec(select(District).where(District.code == district_code)).first()
        if district_code
        else session.exec(select(District).order_by(col(District.id))).first()
    )
    if district is None:
        raise NotFound(
            "no district loaded: run `lims reference load` first"
            if not district_code
            else f"unknown district {district_code!r}"
        )
    station_id = None
    if station_code:
        station = session.exec(select(Station).where(Station.code == station_code)).first()
        if station is None:
            raise NotFound(f"unknown station {station_code!r}")
        station_id = station.id
    elif role == Role.STATION:
        raise Invalid("a station user needs --station CODE")
    user = User(
        username=username,
        full_name=full_name,
        role=role,
        password_hash=hash_password(password),
        district_id=int(district.id or 0),
        station_id=station_id,
    )
    session.add(user)
    session.flush()
    audit.record(session, by, user, "create", None)
    return user


def authenticate(session: Session, username: str, password: str) -> User:
    """The active user with these credentials, or Unauthorized."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.active:
        _hasher_dummy_verify()
        raise Unauthorized("incorrect user name or password")
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise Unauthorized("incorrect user name or password") from None
    return user


def _hasher_dummy_verify() -> None:
    """Spend the time of a real check so unknown names cannot be told apart by timing."""
    with contextlib.suppress(VerificationError):
        _hasher.verify(_DUMMY_HASH, "not-the-password")


_DUMMY_HASH = _hasher.hash("dummy-password-for-timing")


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().resolved_secret_key(), salt=TOKEN_SALT)


def issue_token(user: User) -> str:
    """A signed bearer token for `user`."""
    return _serializer().dumps({"u": user.id, "r": user.role})


def user_from_token(session: Session, token: str) -> User:
    """The active user a valid, unexpired token was issued to."""
    try:
        data = _serializer().loads(token, max_age=get_settings().token_minutes * 60)
    except SignatureExpired:
        raise Unauthorized("token expired; sign in again") from None
    except BadSignature:
        raise Unauthorized("invalid token") from None
    user = session.get(User, data.get("u")) if isinstance(data, dict) else None
    if user is None or not user.active or user.role != data.get("r"):
        raise Unauthorized("invalid token")
    return user


def require_role(actor: Actor, *roles: Role) -> None:
    """Forbidden unless the actor has one of `roles` (the console's system actor may do anything)."""
    if actor.role == "system":
        return
    if actor.role not in {r.value for r in roles}:
        raise Forbidden(f"role {actor.role!r} may not do this; needs {' or '.join(r.value for r in roles)}")
