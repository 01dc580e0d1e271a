"""Accounts, for administrators: the users of their district, new accounts, disabling, roles, passwords."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from lims.api.deps import CurrentUser, SessionDep
from lims.models.users import AccountChanged, PasswordChange, RoleChange, UserAccount, UserCreate
from lims.services.access import accounts
from lims.services.access.accounts import Changed

router = APIRouter(prefix="/users", tags=["users"])
Username = Annotated[str, Path(min_length=1, max_length=64, description="the user name")]


def _changed(session: SessionDep, changed: Changed) -> AccountChanged:
    session.commit()
    account = UserAccount.model_validate(changed.user, from_attributes=True)
    return AccountChanged(**account.model_dump(), sessions_revoked=changed.sessions_revoked)


@router.get("")
def list_users(session: SessionDep, actor: CurrentUser) -> list[UserAccount]:
    """Every account of the administrator's district."""
    return [UserAccount.model_validate(u, from_attributes=True) for u in accounts.list_users(session, actor)]


@router.post("", status_code=201)
def create_user(session: SessionDep, actor: CurrentUser, body: UserCreate) -> UserAccount:
    """A new account in the administrator's district."""
    user = accounts.create(session, actor, body)
    session.commit()
    return UserAccount.model_validate(user, from_attributes=True)


@router.post("/{username}/disable")
def disable_user(session: SessionDep, actor: CurrentUser, username: Username) -> AccountChanged:
    """Disable an account; its tokens stop working at once."""
    return _changed(session, accounts.disable(session, actor, username))


@router.post("/{username}/enable")
def enable_user(session: SessionDep, actor: CurrentUser, username: Username) -> AccountChanged:
    """Let a disabled account sign in again."""
    return _changed(session, accounts.enable(session, actor, username))


@router.post("/{username}/role")
def change_role(session: SessionDep, actor: CurrentUser, username: Username, body: RoleChange) -> AccountChanged:
    """Give an account another role; its tokens stop working at once."""
    return _changed(session, accounts.set_role(session, actor, username, body.role, station_code=body.station_code))


@router.post("/{username}/password")
def change_password(
    session: SessionDep, actor: CurrentUser, username: Username, body: PasswordChange
) -> AccountChanged:
    """Set a new password; every sign-in of the user is revoked."""
    return _changed(session, accounts.set_password(session, actor, username, body.password))
