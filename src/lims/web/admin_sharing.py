"""The administrator's page for sharing with other platforms: webhook subscriptions and their delivery log, and
links to the open-data export. Thin: the rules are `services.sharing`'s, as the API's are."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from lims.api.deps import RowId, SessionDep
from lims.models.sharing import MAX_DESCRIPTION, MAX_URL, EventType, WebhookCreate
from lims.services.core import clock
from lims.services.core.audit import Actor
from lims.services.core.errors import ServiceError
from lims.services.sharing import subscriptions
from lims.web.admin import Admin, FormErrors, _errors
from lims.web.common import CsrfChecked, page_router, redirect, render, said

router = page_router()
LOG_ROWS = 10


def _page(request: Request, session: Session, actor: Actor, status: int = 200, **ctx: Any) -> HTMLResponse:
    rows = subscriptions.listing(session, actor)
    logs = {row.id: subscriptions.attempts(session, actor, row.id, LOG_ROWS) for row in rows}
    year, month = clock.this_month(clock.zone_of(session, actor.district_id))
    response = render(
        request,
        "admin_sharing.html",
        status_code=status,
        subscriptions=rows,
        logs=logs,
        event_types=[e.value for e in EventType],
        this_month=f"{year:04d}-{month:02d}",
        max_url=MAX_URL,
        max_description=MAX_DESCRIPTION,
        values=ctx.pop("values", {}),
        errors=ctx.pop("errors", FormErrors()),
        done=request.query_params.get("done", ""),
        **ctx,
    )
    response.headers["Cache-Control"] = "no-store"  # a new subscription's secret is on the page once
    return response


@router.get("/admin/sharing", response_class=HTMLResponse)
def sharing_page(request: Request, session: SessionDep, actor: Admin) -> HTMLResponse:
    """The district's webhook subscriptions with their recent deliveries, a form to add one, the open-data links."""
    return _page(request, session, actor)


@router.post("/admin/sharing", response_class=HTMLResponse, dependencies=[CsrfChecked])
def add_subscription(
    request: Request,
    session: SessionDep,
    actor: Admin,
    url: Annotated[str, Form(max_length=MAX_URL + 16)] = "",
    description: Annotated[str, Form(max_length=MAX_DESCRIPTION + 16)] = "",
    events: Annotated[list[str] | None, Form(max_length=len(EventType))] = None,
) -> Response:
    """Subscribe a receiver; the page shows its signing secret this once."""
    form = {"url": url.strip(), "description": description, "events": events or []}
    try:
        created = subscriptions.create(session, actor, WebhookCreate.model_validate(form))
        session.commit()
    except (ServiceError, ValidationError) as exc:
        session.rollback()
        status = exc.status_code if isinstance(exc, ServiceError) else 422
        errors = _errors(request, exc)
        if "" in errors:
            errors["url"] = errors.pop("")
        return _page(request, session, actor, status, values=form, errors=errors)
    return _page(request, session, actor, 201, created=created)


@router.post("/admin/sharing/{subscription_id}/{action}", response_class=HTMLResponse, dependencies=[CsrfChecked])
def change_subscription(
    request: Request,
    session: SessionDep,
    actor: Admin,
    subscription_id: RowId,
    action: Literal["enable", "disable"],
) -> Response:
    """Enable or disable a subscription."""
    try:
        enable = action == "enable"
        subscriptions.set_enabled(
            session, actor, subscription_id, enable, "" if enable else "disabled by an administrator"
        )
        session.commit()
    except ServiceError as exc:
        session.rollback()
        return _page(request, session, actor, exc.status_code, errors=FormErrors({"": said(request, exc)}))
    return redirect(f"/admin/sharing?done={action}#webhook-{subscription_id}")
