"""Sharing with other platforms: the open-data export of published results, and webhook subscriptions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.engine import Engine

from lims.api.deps import ClientAddress, CurrentUser, RowId, SessionDep
from lims.models.sharing import AttemptPublic, WebhookCreate, WebhookCreated, WebhookPublic
from lims.services.public import open_data
from lims.services.sharing import subscriptions
from lims.settings import get_settings

router = APIRouter(tags=["sharing"])


def _limiter(request: Request) -> open_data.ExportLimiter:
    found = getattr(request.app.state, "open_data_limiter", None)
    if found is None:
        found = request.app.state.open_data_limiter = open_data.ExportLimiter.from_settings(get_settings())
    return found


@router.get(
    "/open-data/results",
    responses={
        200: {
            "description": "the published results of the period, streamed (see docs/open-data.md)",
            "content": {"text/csv": {}, "application/json": {}},
        },
        404: {"description": "no such district"},
        422: {"description": "not a day or month, both given, or an unknown format"},
        429: {"description": "too many downloads from this address; try again after Retry-After seconds"},
    },
)
def open_data_results(
    request: Request,
    session: SessionDep,
    address: ClientAddress,
    day: Annotated[str | None, Query(max_length=20, description="a local day, YYYY-MM-DD")] = None,
    month: Annotated[str | None, Query(max_length=20, description="a local month, YYYY-MM")] = None,
    format: Annotated[str, Query(max_length=8, description="csv (UTF-8 with BOM) or json")] = "json",
    district: Annotated[str | None, Query(max_length=8, description="a district code (default: all)")] = None,
) -> StreamingResponse:
    """Published results of a local day or month (public, no sign-in), as CSV or JSON."""
    fmt = open_data.check_format(format)
    chosen = open_data.period(session, day=day, month=month, district=district)
    _limiter(request).take(address)
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    name = open_data.filename(chosen, fmt)
    return StreamingResponse(
        open_data.chunks(engine, chosen, fmt),
        media_type=open_data.MEDIA_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "public, max-age=300"},
    )


@router.get("/webhooks")
def webhooks(session: SessionDep, actor: CurrentUser) -> list[WebhookPublic]:
    """The district's webhook subscriptions with their delivery counts (administrator)."""
    return subscriptions.listing(session, actor)


@router.post("/webhooks", status_code=201, responses={422: {"description": "a URL that may not receive webhooks"}})
def add_webhook(session: SessionDep, actor: CurrentUser, body: WebhookCreate) -> WebhookCreated:
    """Subscribe a receiver (administrator); the answer holds the signing secret, shown only this once."""
    created = subscriptions.create(session, actor, body)
    session.commit()
    return created


@router.post("/webhooks/{subscription_id}/enable")
def enable_webhook(session: SessionDep, actor: CurrentUser, subscription_id: RowId) -> WebhookPublic:
    """Enable a subscription again: its pending deliveries go on (administrator)."""
    changed = subscriptions.set_enabled(session, actor, subscription_id, True)
    session.commit()
    return changed


@router.post("/webhooks/{subscription_id}/disable")
def disable_webhook(session: SessionDep, actor: CurrentUser, subscription_id: RowId) -> WebhookPublic:
    """Stop sending to a subscription; what is pending waits until it is enabled (administrator)."""
    changed = subscriptions.set_enabled(session, actor, subscription_id, False, "disabled by an administrator")
    session.commit()
    return changed


@router.get("/webhooks/{subscription_id}/attempts")
def webhook_attempts(
    session: SessionDep,
    actor: CurrentUser,
    subscription_id: RowId,
    limit: Annotated[int, Query(ge=1, le=subscriptions.MAX_LOG)] = 50,
) -> list[AttemptPublic]:
    """The delivery log, newest first: attempt, status code, latency, error, next try (administrator)."""
    return subscriptions.attempts(session, actor, subscription_id, limit)
