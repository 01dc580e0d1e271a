"""The outbox: an event for each subscribed receiver, written in the transaction of the change it reports.

Each hook is called at the one place its change happens (publication in `results.workflow`, the lab's verdict
in `cases.procedure`, a warning published or withdrawn in `cases.warnings`). The event row holds the exact
body that is signed and sent, and one delivery per subscription that wants it; if the transaction rolls back,
no event exists, and once it commits, no event is lost if the process dies before the dispatcher runs.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from lims.models import District, PositiveCase, PublicWarning, TestResult
from lims.models.sharing import DeliveryState, EventType, WebhookDelivery, WebhookEvent, WebhookSubscription
from lims.services.core import clock
from lims.services.sharing import records
from lims.settings import get_settings

# Standard Webhooks recommends bodies under 20 kB; a warning's two texts (4000 characters each) stay below this.
MAX_BODY_BYTES = 32 * 1024


def _iso(moment: datetime) -> str:
    return clock.local_time(moment, "UTC").isoformat().replace("+00:00", "Z")


def body_of(event_type: str, occurred_at: datetime, data: dict[str, Any]) -> str:
    """The JSON body of an event (Standard Webhooks payload: type, timestamp, data), compact and in UTF-8."""
    body = json.dumps(
        {"type": event_type, "timestamp": _iso(occurred_at), "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    )
    if len(body.encode()) > MAX_BODY_BYTES:  # never expected from bounded fields; a thin event instead
        thin = {key: data[key] for key in ("id", "result_id", "case_id", "url", "trace_url") if key in data}
        body = json.dumps(
            {"type": event_type, "timestamp": _iso(occurred_at), "data": {**thin, "truncated": True}},
            ensure_ascii=False,
            separators=(",", ":"),
        )
    return body


def new_msg_id() -> str:
    """A unique message id (`msg_` and URL-safe base64: never a full stop, which the signed content uses)."""
    return "msg_" + secrets.token_urlsafe(18)


def emit(
    session: Session, district_id: int, event_type: EventType, subject: str, data: dict[str, Any]
) -> WebhookEvent | None:
    """Queue an event for every enabled subscription of the district that wants it (None when none does)."""
    subscriptions = session.exec(
        select(WebhookSubscription).where(
            WebhookSubscription.district_id == district_id, col(WebhookSubscription.enabled).is_(True)
        )
    ).all()
    wanted = [s for s in subscriptions if str(event_type) in s.events]
    if not wanted:
        return None
    now = clock.now()
    event = WebhookEvent(
        msg_id=new_msg_id(),
        district_id=district_id,
        type=str(event_type),
        subject=subject,
        occurred_at=now,
        body=body_of(str(event_type), now, data),
    )
    session.add(event)
    session.flush()
    for subscription in wanted:
        session.add(
            WebhookDelivery(
                event_id=int(event.id or 0),
                subscription_id=int(subscription.id or 0),
                state=DeliveryState.PENDING,
                next_attempt_at=now,
            )
        )
    session.flush()
    return event


def _result_record(session: Session, result_id: int, case_state: str | None) -> dict[str, Any] | None:
    row = session.connection().execute(records.published_rows(col(TestResult.id) == result_id)).first()
    return None if row is None else records.record(row, case_state)


def result_published(session: Session, result: TestResult, case_state: str | None) -> WebhookEvent | None:
    """`result.published`: the published-result record (the open-data fields), with its case's public state."""
    data = _result_record(session, int(result.id or 0), case_state)
    if data is None:  # not public after all (a proficiency sample): nothing to share
        return None
    return emit(session, result.district_id, EventType.RESULT_PUBLISHED, f"result:{result.id}", data)


def case_decided(session: Session, case: PositiveCase, case_state: str) -> WebhookEvent | None:
    """`positive.confirmed` or `positive.cleared`: the lab's verdict on a published positive.

    A verdict on a result not yet published is not shared: its publication carries the state instead."""
    result = _result_record(session, case.result_id, case_state)
    if result is None or case.referral_outcome not in ("confirmed", "not_confirmed"):
        return None
    kind = EventType.POSITIVE_CONFIRMED if case.referral_outcome == "confirmed" else EventType.POSITIVE_CLEARED
    decided = case.referral_outcome_at or clock.now()
    data = {"case_id": case.id, "case_state": case_state, "decided_at": _iso(decided), "result": result}
    return emit(session, case.district_id, kind, f"case:{case.id}", data)


def _warning_data(session: Session, warning: PublicWarning) -> dict[str, Any]:
    district = session.get(District, warning.district_id)
    base = get_settings().public_base_url.rstrip("/")
    return {
        "id": warning.id,
        "district_code": district.code if district else "",
        "title_zh": warning.title_zh,
        "title_en": warning.title_en,
        "body_zh": warning.body_zh,
        "body_en": warning.body_en,
        "item_code": warning.item_code,
        "category_code": warning.category_code,
        "gtin": warning.gtin,
        "published_at": _iso(warning.published_at) if warning.published_at else None,
        "expires_at": _iso(warning.expires_at) if warning.expires_at else None,
        "withdrawn_at": _iso(warning.withdrawn_at) if warning.withdrawn_at else None,
        "withdrawn_reason": warning.withdrawn_reason,
        "url": f"{base}/warnings",
    }


def warning_published(session: Session, warning: PublicWarning) -> WebhookEvent | None:
    """`warning.published`: a consumption-safety warning as the public sees it."""
    data = _warning_data(session, warning)
    return emit(session, warning.district_id, EventType.WARNING_PUBLISHED, f"warning:{warning.id}", data)


def warning_withdrawn(session: Session, warning: PublicWarning) -> WebhookEvent | None:
    """`warning.withdrawn`: the warning with when and why it was withdrawn."""
    data = _warning_data(session, warning)
    return emit(session, warning.district_id, EventType.WARNING_WITHDRAWN, f"warning:{warning.id}", data)
