"""Dependencies shared by routes: the database session and the signed-in user."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from lims.db import get_engine
from lims.i18n import _N
from lims.models.bounds import MAX_ROW_ID
from lims.services.access import auth, throttle
from lims.services.access.throttle import SignInThrottle
from lims.services.core.audit import Actor
from lims.services.core.errors import Unauthorized
from lims.settings import get_settings

# A row id in a path: out-of-range numbers are a 422, never an overflow in the database driver.
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
# A sample label id in a path (checked for its check character by the service).
LabelId = Annotated[str, Path(min_length=1, max_length=12, pattern=r"^[A-Za-z0-9]+$")]
oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session on the app's database; routes commit what they change.

    Opening a session does no I/O (a connection is taken on first use), so this runs on the event loop
    instead of costing a worker-thread round trip on every request.
    """
    engine = getattr(request.app.state, "engine", None) or get_engine()
    with Session(engine, expire_on_commit=False) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def current_actor(session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]) -> Actor:
    """The signed-in user as an audit actor, or 401."""
    if not token:
        raise Unauthorized(
            "deps.sign_first_send_authorization",
            _N("sign in first: send 'Authorization: Bearer <token>' from POST /api/v1/auth/token"),
        )
    return auth.actor_for(auth.user_from_token(session, token))


CurrentUser = Annotated[Actor, Depends(current_actor)]


def signin_throttle(request: Request) -> SignInThrottle:
    """The app's sign-in throttle (made from the settings on first use when the app did not set one)."""
    found = getattr(request.app.state, "signin_throttle", None)
    if found is None:
        found = request.app.state.signin_throttle = SignInThrottle.from_settings(get_settings())
    return found


def client_address(request: Request) -> str:
    """The client's address; X-Forwarded-For counts only when the peer is a proxy in LIMS_TRUSTED_PROXIES."""
    trusted = getattr(request.app.state, "trusted_proxies", None)
    if trusted is None:
        trusted = request.app.state.trusted_proxies = throttle.trusted_networks(get_settings().trusted_proxies)
    peer = request.client.host if request.client else "unknown"
    return throttle.client_address(peer, request.headers.get("x-forwarded-for"), trusted)


ThrottleDep = Annotated[SignInThrottle, Depends(signin_throttle)]
ClientAddress = Annotated[str, Depends(client_address)]


def optional_actor(session: SessionDep, token: Annotated[str | None, Depends(oauth2_scheme)]) -> Actor | None:
    """The signed-in user as an audit actor, None without a token (an invalid or expired token is a 401)."""
    if not token:
        return None
    return auth.actor_for(auth.user_from_token(session, token))


OptionalUser = Annotated[Actor | None, Depends(optional_actor)]
