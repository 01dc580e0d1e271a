"""Users and their roles."""

from __future__ import annotations

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


class UserPublic(UserBase):
    """A user as the API shows it."""

    id: int
    district_id: int
    station_id: int | None
