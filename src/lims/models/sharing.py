"""Sharing with other platforms: webhook subscriptions, the outbox of events, deliveries and their attempts."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from lims.models.common import json_column, secret_field, utcnow

MAX_URL = 2048
MAX_DESCRIPTION = 200
# What is kept of a receiver's answer, and of the reason an attempt failed.
MAX_EXCERPT = 300
MAX_ERROR = 300


class EventType(StrEnum):
    """What a subscriber may be told of (Standard Webhooks event types: dotted, `[a-z_]`)."""

    RESULT_PUBLISHED = "result.published"
    POSITIVE_CONFIRMED = "positive.confirmed"
    POSITIVE_CLEARED = "positive.cleared"
    WARNING_PUBLISHED = "warning.published"
    WARNING_WITHDRAWN = "warning.withdrawn"


class DeliveryState(StrEnum):
    """Where the delivery of one event to one subscription stands."""

    PENDING = "pending"  # due at `next_attempt_at` (also while an attempt is under way: its lease)
    DELIVERED = "delivered"  # the receiver answered 2xx
    FAILED = "failed"  # given up: the attempts ran out, or the receiver said 410 Gone


class WebhookSubscriptionBase(SQLModel):
    """What an administrator sets: where to send, which events, and a note on who the receiver is."""

    url: str = Field(max_length=MAX_URL)
    events: list[str] = Field(default_factory=list, sa_column=json_column(nullable=False))
    description: str = Field(default="", max_length=MAX_DESCRIPTION)


class WebhookSubscription(WebhookSubscriptionBase, table=True):
    """A receiver of the district's events. The secret signs every delivery; it is shown once, when made."""

    __tablename__ = "webhook_subscription"
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    secret: str = secret_field(max_length=100)
    enabled: bool = True
    disabled_reason: str = Field(default="", max_length=MAX_ERROR)
    created_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow)


class WebhookCreate(SQLModel):
    """A new subscription: target URL (http or https), the events wanted, a note."""

    url: str = Field(min_length=8, max_length=MAX_URL)
    events: list[EventType] = Field(min_length=1, max_length=len(EventType))
    description: str = Field(default="", max_length=MAX_DESCRIPTION)


class WebhookPublic(WebhookSubscriptionBase):
    """A subscription as its administrators see it (never with its secret)."""

    id: int
    enabled: bool
    disabled_reason: str
    created_at: datetime
    pending: int = 0
    delivered: int = 0
    failed: int = 0


class WebhookCreated(WebhookPublic):
    """A subscription just made, with its signing secret: the only time the secret is shown."""

    secret: str


class WebhookEvent(SQLModel, table=True):
    """An event in the outbox, written in the transaction of the change it reports: the exact body sent."""

    __tablename__ = "webhook_event"
    id: int | None = Field(default=None, primary_key=True)
    msg_id: str = Field(max_length=40, unique=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    type: str = Field(max_length=32)
    subject: str = Field(default="", max_length=64)  # what it is about, e.g. "result:12"
    occurred_at: datetime
    body: str = Field(sa_type=Text)


class WebhookDelivery(SQLModel, table=True):
    """The delivery of one event to one subscription: its state, attempts made and when the next is due."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (UniqueConstraint("event_id", "subscription_id", name="uq_webhook_delivery_event_subscription"),)
    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(foreign_key="webhook_event.id", index=True)
    subscription_id: int = Field(foreign_key="webhook_subscription.id", index=True)
    state: str = Field(default=DeliveryState.PENDING, max_length=16, index=True)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, index=True)
    last_status: int | None = None
    delivered_at: datetime | None = None


class WebhookAttempt(SQLModel, table=True):
    """One try to deliver: when, the receiver's status code, how long it took, what went wrong, the next try."""

    __tablename__ = "webhook_attempt"
    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(foreign_key="webhook_delivery.id", index=True)
    number: int
    at: datetime
    status_code: int | None = None
    latency_ms: int = 0
    error: str = Field(default="", max_length=MAX_ERROR)
    response_excerpt: str = Field(default="", max_length=MAX_EXCERPT)
    next_attempt_at: datetime | None = None


class AttemptPublic(SQLModel):
    """One line of a subscription's delivery log."""

    delivery_id: int
    msg_id: str
    event_type: str
    subject: str
    number: int
    at: datetime
    status_code: int | None
    latency_ms: int
    error: str
    response_excerpt: str
    next_attempt_at: datetime | None
    state: str
