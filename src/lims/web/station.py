"""The station dashboard: shared results with filters and CSV, hotspot charts, positive cases, notifications."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from lims.api.deps import RowId, SessionDep
from lims.i18n import _N
from lims.models.cases import CasePublic, Disposal, ReferralOutcome, RetestRequest
from lims.models.common import CaseStep, Role
from lims.models.results import ResultPublic
from lims.services.access import districts
from lims.services.cases import notifications, procedure
from lims.services.core import dates
from lims.services.core.audit import Actor
from lims.services.core.errors import Invalid, ServiceError
from lims.services.public import hotspots, states
from lims.services.reference import reference_data
from lims.services.results import records
from lims.web.charts import rate_chart
from lims.web.common import CsrfChecked, page_router, redirect, render, role_page, said, validation_reason
from lims.web.i18n import label, language

router = page_router()
StationUser = Annotated[Actor, Depends(role_page(Role.STATION))]
PAGE_ROWS = 50
MAX_PAGE_ROWS = 1000
CSV_ROWS = 10_000
CSV_COLUMNS = (
    "result_id",
    "sample_label_id",
    "item_code",
    "item_name_zh",
    "item_name_en",
    "point_code",
    "judgement",
    "value",
    "unit",
    "status",
    "tested_at",
    "published_at",
    "case_state",
)


@dataclass(frozen=True)
class Filters:
    """The dashboard's filters, as given in the query string."""

    date_from: str = ""
    date_to: str = ""
    point: str = ""
    item: str = ""
    judgement: str = ""
    limit: int = PAGE_ROWS

    def query(self) -> str:
        """The filters as a query string (for the CSV link)."""
        from urllib.parse import urlencode

        return urlencode({k: v for k, v in self.__dict__.items() if v and k != "limit"})

    def more(self) -> str:
        """The query string that shows more rows."""
        return (self.query() + "&" if self.query() else "") + f"limit={min(self.limit + 200, MAX_PAGE_ROWS)}"


def filters(
    date_from: Annotated[str, Query(max_length=10)] = "",
    date_to: Annotated[str, Query(max_length=10)] = "",
    point: Annotated[str, Query(max_length=16)] = "",
    item: Annotated[str, Query(max_length=16)] = "",
    judgement: Annotated[str, Query(max_length=16)] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_ROWS)] = PAGE_ROWS,
) -> Filters:
    """Read the filters from the query string."""
    return Filters(date_from, date_to, point, item, judgement, limit)


FiltersDep = Annotated[Filters, Depends(filters)]


def _results(session: Session, actor: Actor, f: Filters, limit: int) -> list[ResultPublic]:
    found = records.search(
        session,
        actor,
        date_from=f.date_from or None,
        date_to=f.date_to or None,
        point_code=f.point or None,
        item_code=f.item or None,
        judgement=f.judgement or None,
        limit=limit,
    )
    return records.public_views(session, found)


def _page(request: Request, session: Session, actor: Actor, f: Filters, status: int = 200, **ctx: Any) -> HTMLResponse:
    lang = language(request)
    error = ctx.pop("error", None)
    try:
        shared = _results(session, actor, f, f.limit)
        spots = hotspots.positive_rates(
            session,
            actor,
            date_from=f.date_from or None,
            date_to=f.date_to or None,
            point_code=f.point or None,
            item_code=f.item or None,
        )
    except ServiceError as exc:  # a bad filter: show the page without results and say why
        shared, spots, error, status = [], hotspots.aggregate([]), exc.text(lang), exc.status_code
    charts = {
        d: rate_chart(spots.by[d], lang, label(f"by_{d}", lang))
        for d in hotspots.DIMENSIONS
        if spots.by.get(d) is not None
    }
    open_cases: list[CasePublic] = [
        procedure.public(session, c) for c in procedure.list_for(session, actor, open_only=True)
    ]
    unread = notifications.unread(session, actor)
    case_states = states.case_states(session, [r.id for r in shared if r.judgement == "positive"])
    return render(
        request,
        "station.html",
        status_code=status,
        f=f,
        shared=shared,
        case_states=case_states,
        spots=spots,
        charts=charts,
        cases=open_cases,
        notices=unread,
        points=districts.points(session, actor.district_id),
        items=reference_data.items(session),
        error=error,
        done=request.query_params.get("done") == "1",
        **ctx,
    )


@router.get("/station", response_class=HTMLResponse)
def dashboard(request: Request, session: SessionDep, actor: StationUser, f: FiltersDep) -> HTMLResponse:
    """Shared results, hotspots, open positive cases at this station's points and new notifications."""
    return _page(request, session, actor, f)


@router.get("/station/results.csv")
def export_csv(session: SessionDep, actor: StationUser, f: FiltersDep) -> Response:
    """The filtered shared results as CSV (UTF-8 with BOM so spreadsheet programs read the Chinese)."""
    rows = _results(session, actor, f, CSV_ROWS)
    case_states = states.case_states(session, [r.id for r in rows if r.judgement == "positive"])
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                r.id,
                r.sample_label_id,
                r.item_code,
                r.item_name_zh,
                r.item_name_en,
                r.point_code,
                r.judgement,
                "" if r.value is None else f"{r.value:g}",
                r.unit,
                r.status,
                r.tested_at.isoformat(),
                r.published_at.isoformat() if r.published_at else "",
                str(case_states.get(r.id, "")),
            ]
        )
    return Response(
        out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="shared-results.csv"'},
    )


CaseId = RowId


@router.post("/station/cases/{case_id}/{step}", response_class=HTMLResponse, dependencies=[CsrfChecked])
def follow_up(
    request: Request,
    session: SessionDep,
    actor: StationUser,
    case_id: CaseId,
    step: CaseStep,
    lab: Annotated[str, Form(max_length=200)] = "",
    outcome: Annotated[str, Form(max_length=20)] = "",
    action: Annotated[str, Form(max_length=20)] = "",
    quantity: Annotated[str, Form(max_length=20)] = "",
    unit: Annotated[str, Form(max_length=16)] = "kg",
) -> Response:
    """Record the next step of a positive case: retest request, acceptance, lab finding or disposal."""
    try:
        if step == "retest":
            procedure.request_retest(session, actor, case_id, RetestRequest(lab=lab.strip()))
        elif step == "accept":
            procedure.accept(session, actor, case_id)
        elif step == "outcome":
            procedure.record_outcome(session, actor, case_id, ReferralOutcome.model_validate({"outcome": outcome}))
        else:
            amount = _number(quantity)
            body = Disposal.model_validate({"action": action, "quantity": amount, "unit": unit.strip() or "kg"})
            procedure.record_disposal(session, actor, case_id, body)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        return _page(
            request,
            session,
            actor,
            Filters(),
            exc.status_code,
            case_error=said(request, exc),
            error_case=case_id,
        )
    except ValidationError as exc:
        session.rollback()
        reason = validation_reason(exc)
        return _page(request, session, actor, Filters(), 422, case_error=reason, error_case=case_id)
    return redirect("/station?done=1#cases")


def _number(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise Invalid("station.quantity_number", _N("quantity {text!r} is not a number"), text=text) from None


@router.post("/station/notifications/read", dependencies=[CsrfChecked])
def read_notifications(
    session: SessionDep, actor: StationUser, until: Annotated[str, Form(max_length=40)] = ""
) -> Response:
    """Mark the shown notifications read (up to the newest one shown)."""
    notifications.mark_read(session, actor, dates.moment(until, "until"))
    session.commit()
    return redirect("/station")
