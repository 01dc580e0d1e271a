"""Per-user notification marks: how far each user has read their notifications."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel


class NotificationMark(SQLModel, table=True):
    """The time up to which a user has seen their notifications (one row per user)."""

    __tablename__ = "notification_mark"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", unique=True)
    seen_until: datetime
