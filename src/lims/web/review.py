"""The reviewer's queue: raw evidence beside each pending result, approve / reject / publish, warnings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlmodel import Session

from lims.api.deps import LabelId, RowId, SessionDep
from lims.api.limits import read_bounded
from lims.models.cases import LabVerdict, WarningBase
from lims.models.common import Decision, ResultStatus, ReviewAction, Role
from lims.models.results import ResultPublic
from lims.services.cases import files, procedure, warnings
from lims.services.core.audit import Actor
from lims.services.core.errors import ServiceError
from lims.services.reference import reference_data
from lims.services.results import records, reviewing
from lims.services.samples import sampling
from lims.web.common import CsrfChecked, page_router, redirect, render, role_page, said, validation_reason

router = page_router()
Reviewer = Annotated[Actor, Depends(role_page(Role.REVIEWER))]
DONE = {"approve", "reject", "publish", "warning", "withdrawn", "correction_approved", "correction_rejected", "case"}


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


def _rows(session: Session, actor: Actor, status: ResultStatus) -> list[QueueRow]:
    found = records.search(session, actor, status=status, limit=200)
    testers = {r.id: r.tester_id for r in found}
    products: dict[str, tuple[str, str]] = {}
    rows = []
    for view in records.public_views(session, found):
        if view.sample_label_id not in products:
            sample = sampling.get_for(session, actor, view.sample_label_id)
            products[view.sample_label_id] = (sample.product_name, sample.category_code)
        product, category = products[view.sample_label_id]
        flags = [Flag(f, records.FLAG_TEXT.get(f, f)) for f in view.flags]
        rows.append(QueueRow(view, product, category, flags, testers[view.id] == actor.user_id))
    return rows


def _page(request: Request, session: Session, actor: Actor, status_code: int = 200, **context: Any) -> HTMLResponse:
    done = request.query_params.get("done")
    return render(
        request,
        "review.html",
        status_code=status_code,
        pending=_rows(session, actor, ResultStatus.TESTED),
        approved=_rows(session, actor, ResultStatus.APPROVED),
        corrections=sampling.pending_corrections(session, actor),
        items=reference_data.items(session),
        categories=reference_data.categories(session),
        in_force=[w for w in warnings.active(session) if w.district_id == actor.district_id],
        cases=[procedure.public(session, c) for c in procedure.list_for(session, actor, open_only=True)],
        done=done if done in DONE else None,
        form=context.pop("form", {}),
        **context,
    )


@router.get("/review", response_class=HTMLResponse)
def queue(request: Request, session: SessionDep, actor: Reviewer) -> HTMLResponse:
    """Pending results with their raw data and flags, approved results to publish, warnings to publish or withdraw."""
    return _page(request, session, actor)


@router.post("/review/results/{result_id}/{action}", response_class=HTMLResponse, dependencies=[CsrfChecked])
def decide(
    request: Request,
    session: SessionDep,
    actor: Reviewer,
    result_id: RowId,
    action: ReviewAction,
    reason: Annotated[str, Form(max_length=500)] = "",
    acknowledge_flags: Annotated[bool, Form()] = False,
) -> Response:
    """Approve, reject (with a reason) or publish one result; four-eyes and flag rules are the service's."""
    try:
        reviewing.act(session, actor, result_id, action, reason=reason, acknowledge_flags=acknowledge_flags)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        return _page(request, session, actor, exc.status_code, error=said(request, exc), error_result=result_id)
    return redirect(f"/review?done={action}#queue")


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
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Approve or reject (with a reason) a correction of a published sample; four-eyes is the service's."""
    try:
        sampling.review_correction(session, actor, label_id, version, action, reason=reason)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        return _page(
            request, session, actor, exc.status_code, correction_error=said(request, exc), error_label=label_id
        )
    done = {"approve": "correction_approved", "reject": "correction_rejected"}[action]
    return redirect(f"/review?done={done}#corrections")


@router.post("/review/warnings", response_class=HTMLResponse, dependencies=[CsrfChecked])
def publish_warning(
    request: Request,
    session: SessionDep,
    actor: Reviewer,
    title_zh: Annotated[str, Form(max_length=200)] = "",
    title_en: Annotated[str, Form(max_length=200)] = "",
    body_zh: Annotated[str, Form(max_length=4000)] = "",
    body_en: Annotated[str, Form(max_length=4000)] = "",
    item_code: Annotated[str, Form(max_length=16)] = "",
    category_code: Annotated[str, Form(max_length=32)] = "",
    gtin: Annotated[str, Form(max_length=14)] = "",
    valid_until: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Publish a consumption-safety warning now."""
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
        return _page(request, session, actor, exc.status_code, warning_error=said(request, exc), form=form)
    except ValidationError as exc:  # a field too short or too long
        return _page(request, session, actor, 422, warning_error=validation_reason(exc), form=form)
    return redirect("/review?done=warning#warning-form")


@router.post("/review/warnings/{warning_id}/withdraw", response_class=HTMLResponse, dependencies=[CsrfChecked])
def withdraw_warning(
    request: Request,
    session: SessionDep,
    actor: Reviewer,
    warning_id: RowId,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Withdraw a warning in force, with the reason."""
    try:
        warnings.withdraw(session, actor, warning_id, reason)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        return _page(
            request,
            session,
            actor,
            exc.status_code,
            withdraw_error=said(request, exc),
            error_warning=warning_id,
        )
    return redirect("/review?done=withdrawn#warnings-in-force")


@router.post("/review/cases/{case_id}/verdict", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def record_verdict(
    request: Request,
    session: SessionDep,
    actor: Reviewer,
    case_id: RowId,
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
        return _page(request, session, actor, exc.status_code, case_error=said(request, exc), error_case=case_id)
    except ValidationError as exc:
        session.rollback()
        return _page(request, session, actor, 422, case_error=validation_reason(exc), error_case=case_id)
    return redirect("/review?done=case#cases")
