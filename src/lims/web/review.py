"""The reviewer's queue: raw evidence beside each pending result, approve / reject / publish, warnings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import Field, ValidationError
from sqlmodel import Session

from lims.api.deps import LabelId, RowId, SessionDep
from lims.api.limits import read_bounded
from lims.i18n import _N
from lims.models.bounds import MAX_ROW_ID
from lims.models.cases import LabVerdict, WarningBase
from lims.models.common import Decision, ResultStatus, ReviewAction, Role
from lims.models.results import ResultPublic
from lims.services.access import districts
from lims.services.cases import files, procedure, warnings
from lims.services.core.audit import Actor
from lims.services.core.errors import Invalid, ServiceError
from lims.services.reference import reference_data
from lims.services.results import evidence, records, reviewing
from lims.services.samples import sampling
from lims.web.common import CsrfChecked, page_router, redirect, render, role_page, said, validation_reason

RowIdValue = Annotated[int, Field(ge=1, le=MAX_ROW_ID)]
router = page_router()
Reviewer = Annotated[Actor, Depends(role_page(Role.REVIEWER))]
Evidence = Annotated[Actor, Depends(role_page(Role.REVIEWER, Role.TESTER, Role.ADMIN))]
DONE = {
    "approve",
    "reject",
    "publish",
    "warning",
    "withdrawn",
    "correction_approved",
    "correction_rejected",
    "case",
    "batch_approve",
    "batch_publish",
}
# Where the page may scroll back to after an action: a row of a list, or a list's heading.
ANCHOR = re.compile(r"^(result-[0-9]{1,12}|queue|approved|cases|corrections|warnings-in-force|warning-form)$")
SKIPPED = re.compile(r"([0-9]{1,12})\.([a-z_]{1,16})")
MAX_PAGES = 1000


@dataclass(frozen=True)
class Flag:
    """A validity flag and the message id of what it means."""

    code: str
    text: str


@dataclass(frozen=True)
class QueueRow:
    """One result in the queue with what the reviewer needs beside it."""

    result: ResultPublic
    product: str
    category: str
    flags: list[Flag]
    mine: bool

    @property
    def card_photo(self) -> evidence.Overlay | None:
        """The photo the result was measured from with its card's window and lines drawn, for card-photo results."""
        found = evidence.overlays([self.result])
        return found[0] if found else None

    @property
    def evidence(self) -> dict[str, Any]:
        """The raw data as sent, then what the judgement computed from it (each figure once, empty ones left out)."""
        raw = {k: v for k, v in self.result.raw.items() if k != "details"}
        details = self.result.raw.get("details")
        if isinstance(details, dict):
            raw.update({k: v for k, v in details.items() if k not in raw and v not in (None, "")})
        return raw


@dataclass(frozen=True)
class Listing:
    """One page of a list: its rows, how many match in all, which page this is and how many there are."""

    rows: list[QueueRow]
    total: int
    page: int

    @property
    def pages(self) -> int:
        """How many pages the matching results fill."""
        return max(1, -(-self.total // reviewing.QUEUE_PAGE))

    @property
    def first(self) -> int:
        """The position of the first row shown (1-based), 0 when none."""
        return (self.page - 1) * reviewing.QUEUE_PAGE + 1 if self.rows else 0


@dataclass(frozen=True)
class View:
    """The queue's filters and pages as given in the query string; kept across every action."""

    f: reviewing.QueueFilter = field(default_factory=reviewing.QueueFilter)
    page: int = 1
    apage: int = 1

    def query(self, **changes: Any) -> str:
        """The filters and pages as a query string, with `changes` applied (empty values left out)."""
        values: dict[str, Any] = {
            "item": self.f.item,
            "point": self.f.point,
            "judgement": self.f.judgement,
            "flags": self.f.flags,
            "page": self.page if self.page > 1 else "",
            "apage": self.apage if self.apage > 1 else "",
        }
        values.update(changes)
        return urlencode({k: v for k, v in values.items() if v not in ("", None)})

    def back(self, anchor: str, **changes: Any) -> str:
        """The queue again, with these filters, scrolled to `anchor` (a row or a list)."""
        query = self.query(**changes)
        return f"/review?{query}#{anchor if ANCHOR.match(anchor) else 'queue'}"


def view(
    item: Annotated[str, Query(max_length=16)] = "",
    point: Annotated[str, Query(max_length=16)] = "",
    judgement: Annotated[str, Query(max_length=16)] = "",
    flags: Annotated[str, Query(max_length=32)] = "",
    page: Annotated[int, Query(ge=1, le=MAX_PAGES)] = 1,
    apage: Annotated[int, Query(ge=1, le=MAX_PAGES)] = 1,
) -> View:
    """Read the queue's filters and pages from the query string."""
    return View(reviewing.QueueFilter(item.strip(), point.strip(), judgement.strip(), flags.strip()), page, apage)


ViewDep = Annotated[View, Depends(view)]


@dataclass(frozen=True)
class Summary:
    """What a batch did, as the page says it after the redirect."""

    action: str
    done: int
    skipped: list[tuple[int, str]]


def _summary(request: Request) -> Summary | None:
    done = request.query_params.get("done", "")
    if done not in ("batch_approve", "batch_publish"):
        return None
    count = request.query_params.get("n", "0")
    skipped = [
        (int(m.group(1)), m.group(2))
        for m in SKIPPED.finditer(request.query_params.get("skip", "")[:4000])
        if m.group(2) in reviewing.SKIP_TEXT
    ][: reviewing.MAX_BATCH]
    return Summary(done.removeprefix("batch_"), min(int(count), reviewing.MAX_BATCH) if count.isdigit() else 0, skipped)


def _rows(session: Session, actor: Actor, status: ResultStatus, v: View, page: int) -> Listing:
    size = reviewing.QUEUE_PAGE
    found, total = reviewing.queue(session, actor, status, v.f, limit=size, offset=(page - 1) * size)
    if not found and total and page > 1:  # the rows of a last page were all dealt with: show the new last page
        page = -(-total // size)
        found, total = reviewing.queue(session, actor, status, v.f, limit=size, offset=(page - 1) * size)
    testers = {r.id: r.tester_id for r in found}
    products: dict[str, tuple[str, str]] = {}
    rows = []
    for result in records.public_views(session, found):
        if result.sample_label_id not in products:
            sample = sampling.get_for(session, actor, result.sample_label_id)
            products[result.sample_label_id] = (sample.product_name, sample.category_code)
        product, category = products[result.sample_label_id]
        flags = [Flag(f, records.FLAG_TEXT.get(f, f)) for f in result.flags]
        rows.append(QueueRow(result, product, category, flags, testers[result.id] == actor.user_id))
    return Listing(rows, total, page)


def _page(
    request: Request, session: Session, actor: Actor, status_code: int = 200, v: View | None = None, **context: Any
) -> HTMLResponse:
    v = v or View()
    done = request.query_params.get("done")
    try:
        pending = _rows(session, actor, ResultStatus.TESTED, v, v.page)
        approved = _rows(session, actor, ResultStatus.APPROVED, v, v.apage)
    except ServiceError as exc:  # a bad filter: the page without results, and why
        pending = approved = Listing([], 0, 1)
        context.setdefault("filter_error", said(request, exc))
        status_code = exc.status_code if status_code == 200 else status_code
    return render(
        request,
        "review.html",
        status_code=status_code,
        v=v,
        pending=pending,
        approved=approved,
        summary=_summary(request),
        skip_text=reviewing.SKIP_TEXT,
        flag_filters=records.FLAG_TEXT,
        points=districts.points(session, actor.district_id),
        corrections=sampling.pending_corrections(session, actor),
        items=reference_data.items(session),
        categories=reference_data.categories(session),
        in_force=[w for w in warnings.active(session) if w.district_id == actor.district_id],
        cases=[procedure.public(session, c) for c in procedure.list_for(session, actor, open_only=True)],
        done=done if done in DONE else None,
        form=context.pop("form", {}),
        **context,
    )


def _unconfirmed() -> Invalid:
    return Invalid(
        "review.confirm_required",
        _N("tick “I confirm” first: this is public and cannot be undone from here; nothing was changed"),
    )


@router.get("/results/{result_id}/card-photo")
def card_photo(session: SessionDep, actor: Evidence, result_id: RowId) -> Response:
    """The photo a card-photo result was measured from (to the district's lab staff), checked against its SHA-256."""
    content_type, data = evidence.photo(session, actor, result_id)
    return Response(data, media_type=content_type, headers={"Cache-Control": "private, max-age=3600"})


@router.get("/review", response_class=HTMLResponse)
def queue(request: Request, session: SessionDep, actor: Reviewer, v: ViewDep) -> HTMLResponse:
    """Pending results with their raw data and flags, approved results to publish, warnings to publish or withdraw;
    filtered by item, point, judgement and flags, a page of each list at a time."""
    return _page(request, session, actor, v=v)


@router.post("/review/results/{result_id}/{action}", response_class=HTMLResponse, dependencies=[CsrfChecked])
def decide(
    request: Request,
    session: SessionDep,
    actor: Reviewer,
    result_id: RowId,
    action: ReviewAction,
    v: ViewDep,
    reason: Annotated[str, Form(max_length=500)] = "",
    acknowledge_flags: Annotated[bool, Form()] = False,
    confirm: Annotated[bool, Form()] = False,
    at: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Approve, reject (with a reason) or publish (confirmed) one result; four-eyes and flag rules are the
    service's. Back to the queue with its filters, at the row after this one."""
    try:
        if action == ReviewAction.PUBLISH and not confirm:
            raise _unconfirmed()
        reviewing.act(session, actor, result_id, action, reason=reason, acknowledge_flags=acknowledge_flags)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        return _page(request, session, actor, exc.status_code, v, error=said(request, exc), error_result=result_id)
    return redirect(v.back(at or ("approved" if action == ReviewAction.PUBLISH else "queue"), done=action.value))


@router.post("/review/batch/{action}", response_class=HTMLResponse, dependencies=[CsrfChecked])
def decide_batch(
    request: Request,
    session: SessionDep,
    actor: Reviewer,
    action: Literal["approve", "publish"],
    v: ViewDep,
    ids: Annotated[list[RowIdValue], Form()] = [],  # noqa: B006 (FastAPI copies defaults)
    ack: Annotated[list[RowIdValue], Form()] = [],  # noqa: B006
    confirm: Annotated[bool, Form()] = False,
) -> Response:
    """Approve or publish the selected results, each on its own: a flagged one only with its own
    acknowledgement, one someone else changed first is reported; one message says what was done."""
    anchor = "queue" if action == "approve" else "approved"
    try:
        if action == "publish" and not confirm:
            raise _unconfirmed()
        outcome = reviewing.act_many(session, actor, action, ids, frozenset(ack))
    except ServiceError as exc:
        session.rollback()
        return _page(request, session, actor, exc.status_code, v, batch_error=said(request, exc), batch=action)
    skipped = ",".join(f"{s.result_id}.{s.kind}" for s in outcome.skipped)
    return redirect(v.back(anchor, done=f"batch_{action}", n=len(outcome.done), skip=skipped))


@router.post(
    "/review/corrections/{label_id}/{version}/{action}", response_class=HTMLResponse, dependencies=[CsrfChecked]
)
def decide_correction(
    request: Request,
    session: SessionDep,
    actor: Reviewer,
    label_id: LabelId,
    version: RowId,
    action: Decision,
    v: ViewDep,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Approve or reject (with a reason) a correction of a published sample; four-eyes is the service's."""
    try:
        sampling.review_correction(session, actor, label_id, version, action, reason=reason)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        return _page(
            request, session, actor, exc.status_code, v, correction_error=said(request, exc), error_label=label_id
        )
    done = {"approve": "correction_approved", "reject": "correction_rejected"}[action]
    return redirect(v.back("corrections", done=done))


@router.post("/review/warnings", response_class=HTMLResponse, dependencies=[CsrfChecked])
def publish_warning(
    request: Request,
    session: SessionDep,
    actor: Reviewer,
    v: ViewDep,
    title_zh: Annotated[str, Form(max_length=200)] = "",
    title_en: Annotated[str, Form(max_length=200)] = "",
    body_zh: Annotated[str, Form(max_length=4000)] = "",
    body_en: Annotated[str, Form(max_length=4000)] = "",
    item_code: Annotated[str, Form(max_length=16)] = "",
    category_code: Annotated[str, Form(max_length=32)] = "",
    gtin: Annotated[str, Form(max_length=14)] = "",
    valid_until: Annotated[str, Form(max_length=10)] = "",
    confirm: Annotated[bool, Form()] = False,
) -> Response:
    """Publish a consumption-safety warning now (confirmed: the public sees it at once)."""
    form = {
        "title_zh": title_zh,
        "title_en": title_en,
        "body_zh": body_zh,
        "body_en": body_en,
        "item_code": item_code,
        "category_code": category_code,
        "gtin": gtin,
        "valid_until": valid_until,
    }
    try:
        if not confirm:
            raise _unconfirmed()
        data = WarningBase.model_validate(
            {
                **{k: v.strip() for k, v in form.items() if k != "valid_until"},
                "item_code": item_code or None,
                "category_code": category_code or None,
                "gtin": gtin.strip() or None,
                "expires_at": warnings.valid_until(session, actor, valid_until),
            }
        )
        warnings.publish(session, actor, data)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        return _page(request, session, actor, exc.status_code, v, warning_error=said(request, exc), form=form)
    except ValidationError as exc:  # a field too short or too long
        return _page(request, session, actor, 422, v, warning_error=validation_reason(exc), form=form)
    return redirect(v.back("warning-form", done="warning"))


@router.post("/review/warnings/{warning_id}/withdraw", response_class=HTMLResponse, dependencies=[CsrfChecked])
def withdraw_warning(
    request: Request,
    session: SessionDep,
    actor: Reviewer,
    warning_id: RowId,
    v: ViewDep,
    reason: Annotated[str, Form(max_length=500)] = "",
    confirm: Annotated[bool, Form()] = False,
) -> Response:
    """Withdraw a warning in force, with the reason (confirmed: the public no longer sees it)."""
    try:
        if not confirm:
            raise _unconfirmed()
        warnings.withdraw(session, actor, warning_id, reason)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        return _page(
            request,
            session,
            actor,
            exc.status_code,
            v,
            withdraw_error=said(request, exc),
            error_warning=warning_id,
        )
    return redirect(v.back("warnings-in-force", done="withdrawn"))


@router.post("/review/cases/{case_id}/verdict", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def record_verdict(
    request: Request,
    session: SessionDep,
    actor: Reviewer,
    case_id: RowId,
    v: ViewDep,
    report: Annotated[UploadFile, File()],
    lab: Annotated[str, Form(max_length=200)] = "",
    cma: Annotated[str, Form(max_length=12)] = "",
    report_number: Annotated[str, Form(max_length=64)] = "",
    method: Annotated[str, Form(max_length=200)] = "",
    analyte: Annotated[str, Form(max_length=100)] = "",
    value: Annotated[str, Form(max_length=20)] = "",
    unit: Annotated[str, Form(max_length=16)] = "",
    limit: Annotated[str, Form(max_length=100)] = "",
    clause: Annotated[str, Form(max_length=200)] = "",
    outcome: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """The qualified lab's verdict on a case, with its report (PDF); reviewers of the district only."""
    form = {
        "lab": lab,
        "cma": cma,
        "report_number": report_number,
        "method": method,
        "analyte": analyte,
        "value": value.strip() or None,
        "unit": unit,
        "limit": limit,
        "clause": clause,
        "outcome": outcome,
    }
    try:
        upload = await read_bounded(report, files.MAX_REPORT_BYTES)
        procedure.record_verdict(session, actor, case_id, LabVerdict.model_validate(form), upload)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        return _page(request, session, actor, exc.status_code, v, case_error=said(request, exc), error_case=case_id)
    except ValidationError as exc:
        session.rollback()
        return _page(request, session, actor, 422, v, case_error=validation_reason(exc), error_case=case_id)
    return redirect(v.back("cases", done="case"))
