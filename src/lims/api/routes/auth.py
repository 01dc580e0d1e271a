"""Sign-in: OAuth2 password flow issuing bearer tokens (throttled per account and address)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from sqlmodel import SQLModel

from lims.api.deps import ClientAddress, CurrentUser, SessionDep, ThrottleDep
from lims.models import User
from lims.models.users import UserPublic
from lims.services.access import auth

router = APIRouter(prefix="/auth", tags=["auth"])


class Token(SQLModel):
    """A bearer token."""

    access_token: str
    token_type: str = "bearer"
    role: str


@router.post(
    "/token",
    responses={
        401: {"description": "incorrect user name or password"},
        429: {"description": "too many failed sign-ins for the account or from the address; see Retry-After"},
        503: {"description": "too many sign-ins at once; see Retry-After"},
    },
)
def login(
    session: SessionDep,
    throttle: ThrottleDep,
    address: ClientAddress,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Token:
    """Exchange a user name and password for a bearer token."""
    signed_in = auth.sign_in(session, throttle, form.username, form.password, address)
    session.commit()
    return Token(access_token=signed_in.token, role=signed_in.user.role)


@router.get("/me")
def me(session: SessionDep, actor: CurrentUser) -> UserPublic:
    """The signed-in user."""
    user = session.get(User, actor.user_id)
    return UserPublic.model_validate(user, from_attributes=True)
