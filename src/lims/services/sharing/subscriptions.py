"""Webhook subscriptions of a district, managed by its administrators: add, list, enable, disable, delivery log."""

from __future__ import annotations

import base64
import secrets

from sqlalchemy import func
from sqlmodel import Session, col, select

from lims.i18n import _N
from lims.models.common import Role
from lims.models.sharing import (
    MAX_ERROR,
    AttemptPublic,
    WebhookAttempt,
    WebhookCreate,
    WebhookCreated,
    WebhookDelivery,
    WebhookEvent,
    WebhookPublic,
    WebhookSubscription,
)
from lims.services.access.auth import require_role
from lims.services.core import atomic, audit
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, Invalid, NotFound
from lims.services.sharing import targets

# A district shares with a few platforms (the province, a market regulator, a city dashboard), not hundreds.
MAX_SUBSCRIPTIONS = 20
SECRET_BYTES = 32  # Standard Webhooks: 24 to 64 random bytes, base64 after `whsec_`
MAX_LOG = 200


def new_secret() -> str:
    """A signing secret as Standard Webhooks serialises it: `whsec_` and the base64 of random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _counts(session: Session, ids: list[int]) -> dict[tuple[int, str], int]:
    if not ids:
        return {}
    rows = session.exec(
        select(WebhookDelivery.subscription_id, WebhookDelivery.state, func.count())
        .where(col(WebhookDelivery.subscription_id).in_(ids))
        .group_by(col(WebhookDelivery.subscription_id), col(WebhookDelivery.state))
    ).all()
    return {(int(sid), str(state)): int(n) for sid, state, n in rows}


def _public(row: WebhookSubscription, counts: dict[tuple[int, str], int]) -> WebhookPublic:
    sid = int(row.id or 0)
    return WebhookPublic(
        id=sid,
        url=row.url,
        events=list(row.events),
        description=row.description,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        created_at=row.created_at,
        pending=counts.get((sid, "pending"), 0),
        delivered=counts.get((sid, "delivered"), 0),
        failed=counts.get((sid, "failed"), 0),
    )


def create(session: Session, actor: Actor, body: WebhookCreate) -> WebhookCreated:
    """Subscribe a receiver to the district's events; the answer carries the signing secret, shown only now."""
    require_role(actor, Role.ADMIN)
    targets.check(body.url)  # and again at every delivery, on the addresses the name has then
    existing = session.exec(select(func.count()).where(WebhookSubscription.district_id == actor.district_id)).one()
    if int(existing) >= MAX_SUBSCRIPTIONS:
        raise Invalid(
            "webhooks.too_many", _N("a district has at most {count} webhook subscriptions"), count=MAX_SUBSCRIPTIONS
        )
    events = sorted({str(e) for e in body.events})
    row = WebhookSubscription(
        url=body.url.strip(),
        events=events,
        description=" ".join(body.description.split()),
        district_id=int(actor.district_id or 0),
        secret=new_secret(),
        created_by_id=actor.user_id,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, row, "create", None)
    return WebhookCreated(**_public(row, {}).model_dump(), secret=row.secret)


def listing(session: Session, actor: Actor) -> list[WebhookPublic]:
    """The district's subscriptions with how many deliveries are pending, delivered and failed."""
    require_role(actor, Role.ADMIN)
    rows = session.exec(
        select(WebhookSubscription)
        .where(WebhookSubscription.district_id == actor.district_id)
        .order_by(col(WebhookSubscription.id))
    ).all()
    counts = _counts(session, [int(r.id or 0) for r in rows])
    return [_public(r, counts) for r in rows]


def get_for(session: Session, actor: Actor, subscription_id: int) -> WebhookSubscription:
    """A subscription of the actor's district (another district's is answered as none)."""
    require_role(actor, Role.ADMIN)
    row = session.get(WebhookSubscription, subscription_id)
    if row is None or (actor.district_id is not None and row.district_id != actor.district_id):
        raise NotFound("webhooks.no_subscription", _N("no webhook subscription {id}"), id=subscription_id)
    return row


def set_enabled(session: Session, actor: Actor, subscription_id: int, enabled: bool, reason: str = "") -> WebhookPublic:
    """Enable or disable a subscription (one conditional update: of two at once, the second is told)."""
    row = get_for(session, actor, subscription_id)
    if row.enabled == enabled:
        message = (
            _N("webhook subscription {id} is already enabled")
            if enabled
            else _N("webhook subscription {id} is already disabled")
        )
        raise Conflict("webhooks.already", message, id=subscription_id)
    before = audit.snapshot(row)
    values = {"enabled": enabled, "disabled_reason": "" if enabled else reason.strip()[:MAX_ERROR]}
    if not atomic.update_where(session, row, {"enabled": row.enabled}, values):
        session.rollback()
        raise Conflict(
            "webhooks.changed_meanwhile",
            _N("webhook subscription {id} was changed by someone else; reload and try again"),
            id=subscription_id,
        )
    audit.record(session, actor, row, "enable" if enabled else "disable", before)
    return _public(row, _counts(session, [subscription_id]))


def attempts(session: Session, actor: Actor, subscription_id: int, limit: int = 50) -> list[AttemptPublic]:
    """The subscription's delivery log, newest first: each try's status, latency, error and next try."""
    get_for(session, actor, subscription_id)
    rows = session.exec(
        select(WebhookAttempt, WebhookDelivery, WebhookEvent)
        .join(WebhookDelivery, col(WebhookDelivery.id) == col(WebhookAttempt.delivery_id))
        .join(WebhookEvent, col(WebhookEvent.id) == col(WebhookDelivery.event_id))
        .where(WebhookDelivery.subscription_id == subscription_id)
        .order_by(col(WebhookAttempt.id).desc())
        .limit(max(1, min(limit, MAX_LOG)))
    ).all()
    return [
        AttemptPublic(
            delivery_id=int(d.id or 0),
            msg_id=e.msg_id,
            event_type=e.type,
            subject=e.subject,
            number=a.number,
            at=a.at,
            status_code=a.status_code,
            latency_ms=a.latency_ms,
            error=a.error,
            response_excerpt=a.response_excerpt,
            next_attempt_at=a.next_attempt_at,
            state=d.state,
        )
        for a, d, e in rows
    ]
