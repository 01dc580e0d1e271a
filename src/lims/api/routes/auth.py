"""Sign-in: OAuth2 password flow issuing bearer tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm
from sqlmodel import SQLModel

from lims.api.deps import CurrentUser, SessionDep
from lims.models import User
from lims.models.users import UserPublic
from lims.services import auth

router = APIRouter(prefix="/auth", tags=["auth"])


class Token(SQLModel):
    """A bearer token."""

    access_token: str
    token_type: str = "bearer"
    role: str


@router.post("/token")
def login(session: SessionDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    """Exchange a user name and password for a bearer token."""
    user = auth.authenticate(session, form.username, form.password)
    return Token(access_token=auth.issue_token(user), role=user.role)


@router.get("/me")
def me(session: SessionDep, actor: CurrentUser) -> UserPublic:
    """The signed-in user."""
    user = session.get(User, actor.user_id)
    return UserPublic.model_validate(user, from_attributes=True)
