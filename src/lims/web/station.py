"""The station dashboard: shared results with filters and CSV, hotspot charts, positive cases, notifications."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from lims import i18n
from lims.api.deps import RowId, SessionDep
from lims.api.limits import read_bounded
from lims.i18n import _N
from lims.models.cases import Disposal, NoticeReceipt, RetestRequest, SaleSuspension, SealNumber
from lims.models.common import CaseStep, Role
from lims.models.results import ResultPublic
from lims.services.access import districts
from lims.services.cases import board, files, notifications, procedure
from lims.services.core import clock, dates
from lims.services.core.audit import Actor
from lims.services.core.errors import Invalid, ServiceError
from lims.services.public import hotspots, states
from lims.services.reference import reference_data
from lims.services.results import records
from lims.web import market_board, pointmap
from lims.web.charts import percent, rate_chart, scale_end
from lims.web.common import CsrfChecked, page_router, redirect, render, role_page, said, validation_reason
from lims.web.i18n import gettext, label, language

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
    before: int = 0  # the page shows results older than this one (0: the newest)

    def query(self) -> str:
        """The filters as a query string (for the CSV link)."""
        from urllib.parse import urlencode

        return urlencode({k: v for k, v in self.__dict__.items() if v and k not in {"limit", "before"}})

    def older(self, last_id: int) -> str:
        """The query string of the next page: the same filters, results older than `last_id` (keyset)."""
        return (self.query() + "&" if self.query() else "") + f"limit={self.limit}&before={last_id}"


def filters(
    date_from: Annotated[str, Query(max_length=10)] = "",
    date_to: Annotated[str, Query(max_length=10)] = "",
    point: Annotated[str, Query(max_length=16)] = "",
    item: Annotated[str, Query(max_length=16)] = "",
    judgement: Annotated[str, Query(max_length=16)] = "",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_ROWS)] = PAGE_ROWS,
    before: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
) -> Filters:
    """Read the filters from the query string."""
    return Filters(date_from, date_to, point, item, judgement, limit, before)


FiltersDep = Annotated[Filters, Depends(filters)]

# What runs out at a case's next deadline (board.DEADLINES; the clocks are procedure.CaseClocks').
DEADLINE_TEXT = {
    "sale_suspension": _N("Sale to be suspended by"),
    "retest_window": _N("Retest request window closes"),
    "referral": _N("Laboratory verdict due"),
    "disposal": _N("Disposal due"),
}
# How the countdown reads; station.js uses the same texts to update it every half minute.
CLOCK_FORMATS = {
    "left": _N("{time} left"),
    "over": _N("overdue by {time}"),
    "days": _N("{days} d {hours} h"),
    "hours": _N("{hours} h {minutes} min"),
    "minutes": _N("{minutes} min"),
}


def countdown(seconds: int, lang: str) -> str:
    """Time to a deadline as people read it: "2 h 15 min left", "overdue by 35 min" (rounded down to minutes)."""
    span = abs(seconds) // 60
    days, hours, minutes = span // 1440, span % 1440 // 60, span % 60
    if days:
        time = i18n.render(CLOCK_FORMATS["days"], lang, {"days": days, "hours": hours})
    elif hours:
        time = i18n.render(CLOCK_FORMATS["hours"], lang, {"hours": hours, "minutes": minutes})
    else:
        time = i18n.render(CLOCK_FORMATS["minutes"], lang, {"minutes": minutes})
    return i18n.render(CLOCK_FORMATS["left" if seconds >= 0 else "over"], lang, {"time": time})


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
        before_id=f.before or None,
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
    open_cases = board.open_cards(session, actor)
    now = clock.now()
    unread = notifications.unread(session, actor)
    spots_map = hotspots.point_map(session, actor)
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
        closed=board.history(session, actor),
        closed_limit=board.HISTORY,
        now=now,
        left=lambda d: countdown(d.seconds_left(now), lang),
        deadline_text=DEADLINE_TEXT,
        clock_formats={k: gettext(v, lang) for k, v in CLOCK_FORMATS.items()},
        point_map=pointmap.point_map(spots_map, lang, gettext(_N("Sampling points by recent results"), lang)),
        map_points=spots_map,
        board_url=market_board.board_paths(session, actor.district_id),
        map_status=pointmap.status_of,
        map_days=hotspots.MAP_DAYS,
        scale_ends={d: percent(scale_end(spots.by[d][:12])) for d in charts},
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


def _case_refused(request: Request, session: Session, actor: Actor, case_id: int, exc: Exception) -> HTMLResponse:
    """The dashboard again, with why a case step was refused beside the case."""
    session.rollback()
    if isinstance(exc, ServiceError):
        return _page(
            request, session, actor, Filters(), exc.status_code, case_error=said(request, exc), error_case=case_id
        )
    assert isinstance(exc, ValidationError)
    return _page(request, session, actor, Filters(), 422, case_error=validation_reason(exc), error_case=case_id)


@router.post("/station/cases/{case_id}/disposal", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def dispose(
    request: Request,
    session: SessionDep,
    actor: StationUser,
    case_id: CaseId,
    action: Annotated[str, Form(max_length=24)] = "",
    quantity: Annotated[str, Form(max_length=20)] = "",
    unit: Annotated[str, Form(max_length=16)] = "kg",
    note: Annotated[str, Form(max_length=500)] = "",
    officer: Annotated[str, Form(max_length=100)] = "",
    witness: Annotated[str, Form(max_length=100)] = "",
    acknowledged_by: Annotated[str, Form(max_length=100)] = "",
    supplier: Annotated[str, Form(max_length=200)] = "",
    purchase_record: Annotated[str, Form(max_length=200)] = "",
    photo: Annotated[list[UploadFile] | None, File()] = None,
) -> Response:
    """Record the disposal of the goods, with its people, the supplier to trace and photos; closes the case."""
    try:
        uploads = [
            await read_bounded(p, files.MAX_PHOTO_BYTES)
            for p in (photo or [])[: files.MAX_PHOTOS + 1]
            if p.filename or p.size
        ]
        body = Disposal.model_validate(
            {
                "action": action,
                "quantity": _number(quantity),
                "unit": unit.strip() or "kg",
                "note": note,
                "officer": officer,
                "witness": witness,
                "acknowledged_by": acknowledged_by,
                "supplier": supplier,
                "purchase_record": purchase_record,
            }
        )
        procedure.record_disposal(session, actor, case_id, body, uploads)
        session.commit()
    except (ServiceError, ValidationError) as exc:
        return _case_refused(request, session, actor, case_id, exc)
    return redirect("/station?done=1#cases")


@router.post("/station/cases/{case_id}/{step}", response_class=HTMLResponse, dependencies=[CsrfChecked])
def follow_up(
    request: Request,
    session: SessionDep,
    actor: StationUser,
    case_id: CaseId,
    step: CaseStep,
    lab: Annotated[str, Form(max_length=200)] = "",
    seal_number: Annotated[str, Form(max_length=32)] = "",
    delivery: Annotated[str, Form(max_length=24)] = "",
    received_at: Annotated[str, Form(max_length=40)] = "",
    recipient: Annotated[str, Form(max_length=100)] = "",
    recipient_role: Annotated[str, Form(max_length=100)] = "",
    confirmed_by: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Record the next step of a positive case: the notice's receipt, the suspension of sale, the seal number,
    a retest request or acceptance. The lab's verdict is a reviewer's (see the review page)."""
    try:
        if step == CaseStep.NOTICE:
            when = dates.local_moment(received_at, "received_at", clock.zone_of(session, actor.district_id))
            receipt = NoticeReceipt.model_validate(
                {"delivery": delivery, "received_at": when, "recipient": recipient, "recipient_role": recipient_role}
            )
            procedure.deliver_notice(session, actor, case_id, receipt)
        elif step == CaseStep.SUSPEND:
            procedure.suspend_sale(session, actor, case_id, SaleSuspension(confirmed_by=confirmed_by.strip()))
        elif step == CaseStep.SEAL:
            procedure.seal_sample(session, actor, case_id, SealNumber(seal_number=seal_number.strip()))
        elif step == CaseStep.RETEST:
            procedure.request_retest(
                session, actor, case_id, RetestRequest(lab=lab.strip(), seal_number=seal_number.strip())
            )
        elif step == CaseStep.ACCEPT:
            procedure.accept(session, actor, case_id)
        else:
            raise Invalid("station.step_own_form", _N("disposal is recorded with its own form"))
        session.commit()
    except (ServiceError, ValidationError) as exc:
        return _case_refused(request, session, actor, case_id, exc)
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
