"""Users and their roles, the sign-in sessions their tokens stand for, and the account API's schemas."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from lims.models.common import secret_field


class UserBase(SQLModel):
    """A person who signs in: tester, reviewer, station staff or administrator."""

    username: str = Field(max_length=64, unique=True, index=True)
    full_name: str = ""
    role: str = Field(description="tester | reviewer | station | admin")


class User(UserBase, table=True):
    """A user row; the password is stored as an argon2 hash only."""

    __tablename__ = "app_user"
    id: int | None = Field(default=None, primary_key=True)
    password_hash: str = secret_field()
    district_id: int = Field(foreign_key="district.id", index=True)
    station_id: int | None = Field(default=None, foreign_key="station.id")
    active: bool = True


class UserSession(SQLModel, table=True):
    """One sign-in: the random key its signed token carries. Revoking the row revokes the token at once.

    Not audited: sessions are short-lived credentials, pruned when they expire; what revokes them (a
    disabled account, a new role or password) is audited on the user.
    """

    __tablename__ = "user_session"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True, index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    revoked_reason: str | None = Field(default=None, max_length=32)


class UserPublic(UserBase):
    """A user as the API shows it."""

    id: int
    district_id: int
    station_id: int | None


class UserAccount(UserPublic):
    """A user as administrators see it: whether the account may sign in."""

    active: bool


class AccountChanged(UserAccount):
    """An account after a change, with the number of its sign-ins the change revoked."""

    sessions_revoked: int = 0


class UserCreate(SQLModel):
    """A new account in the administrator's district; the password follows the password policy."""

    username: str = Field(min_length=1, max_length=64)
    role: str = Field(max_length=16, description="tester | reviewer | station | admin")
    password: str = Field(min_length=1, max_length=256)
    station_code: str | None = Field(default=None, max_length=16, description="the station of a station user")
    full_name: str = Field(default="", max_length=100)


class RoleChange(SQLModel):
    """A new role (and, for the station role, the station)."""

    role: str = Field(max_length=16, description="tester | reviewer | station | admin")
    station_code: str | None = Field(default=None, max_length=16)


class PasswordChange(SQLModel):
    """A new password, set by an administrator; every sign-in of the user is revoked."""

    password: str = Field(min_length=1, max_length=256)
