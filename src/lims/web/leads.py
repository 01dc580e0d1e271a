"""The station's queue of consumer reports and complaints (线索): open leads, marking one handled, its photo."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from lims.api.deps import RowId, SessionDep
from lims.models.common import Role
from lims.models.leads import MAX_NOTE
from lims.services.core.audit import Actor
from lims.services.core.errors import ServiceError
from lims.services.public import leads
from lims.web.common import CsrfChecked, page_router, redirect, render, role_page, said

router = page_router()
StationUser = Annotated[Actor, Depends(role_page(Role.STATION))]


def _page(request: Request, session: Session, actor: Actor, status: int = 200, **ctx: Any) -> HTMLResponse:
    return render(
        request,
        "leads.html",
        status_code=status,
        open_leads=leads.queue(session, actor),
        handled=leads.queue(session, actor, handled=True)[:20],
        done=request.query_params.get("done") == "1",
        max_note=MAX_NOTE,
        **ctx,
    )


@router.get("/station/leads", response_class=HTMLResponse)
def queue(request: Request, session: SessionDep, actor: StationUser) -> HTMLResponse:
    """The district's open consumer reports and complaints, oldest first, and the ones handled lately."""
    return _page(request, session, actor)


@router.post("/station/leads/{lead_id}/handled", response_class=HTMLResponse, dependencies=[CsrfChecked])
def handled(
    request: Request,
    session: SessionDep,
    actor: StationUser,
    lead_id: RowId,
    note: Annotated[str, Form(max_length=4 * MAX_NOTE)] = "",
) -> Response:
    """Mark a report handled (once: of two people at once, the second is told it was handled already)."""
    try:
        leads.mark_handled(session, actor, lead_id, note)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        return _page(
            request,
            session,
            actor,
            exc.status_code,
            lead_error=said(request, exc),
            error_lead=lead_id,
            typed_note=note[:MAX_NOTE],
        )
    return redirect("/station/leads?done=1")


@router.get("/station/leads/{lead_id}/photo")
def photo(session: SessionDep, actor: StationUser, lead_id: RowId) -> Response:
    """The photo sent with a report (only to the district's station staff)."""
    content_type, data = leads.photo(session, actor, lead_id)
    return Response(
        data,
        media_type=content_type,
        headers={"Cache-Control": "private, no-store", "Content-Disposition": f'inline; filename="lead-{lead_id}"'},
    )
