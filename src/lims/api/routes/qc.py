"""Quality control: control runs, where a lot's controls stand, control history and Levey-Jennings chart per kit
lot, blind (proficiency) samples, and method verification figures."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from lims.api.deps import CurrentUser, RowId, SessionDep
from lims.api.errors import request_language
from lims.models.bounds import SaneDay
from lims.models.qc import BlindCreate, BlindPublic, ControlKind, ControlPublic, ControlSubmit, QcStatus
from lims.services.lab import qc, verification

router = APIRouter(prefix="/qc", tags=["quality control"])
LotId = RowId


@router.post("/controls", status_code=201)
def record_control(request: Request, session: SessionDep, actor: CurrentUser, body: ControlSubmit) -> ControlPublic:
    """Record a control run (tester): judged against its acceptance rule and, if quantitative, the Westgard rules.
    A failed control holds its lot's results of the day from review; a passing one releases them."""
    run = qc.record(session, actor, body)
    session.commit()
    return qc.views(session, [run], request_language(request))[0]


@router.get("/controls")
def controls(
    request: Request,
    session: SessionDep,
    actor: CurrentUser,
    item: Annotated[str | None, Query(max_length=16)] = None,
    kind: Annotated[ControlKind | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=qc.MAX_HISTORY)] = 100,
) -> list[ControlPublic]:
    """Your district's control runs, newest first."""
    runs = qc.history(session, actor, item_code=item, kind=kind, limit=limit)
    return qc.views(session, runs, request_language(request))


@router.get("/status")
def status(
    session: SessionDep,
    actor: CurrentUser,
    item: Annotated[str, Query(min_length=1, max_length=16)],
    lot: Annotated[str | None, Query(max_length=40)] = None,
    day: Annotated[SaneDay | None, Query()] = None,
) -> QcStatus:
    """Which controls an item and kit lot need on a day (today by default), which passed, and what they hold."""
    return qc.status(session, actor, item, lot, day)


@router.get("/lots/{lot_id}/controls")
def lot_history(
    request: Request,
    session: SessionDep,
    actor: CurrentUser,
    lot_id: LotId,
    kind: Annotated[ControlKind | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=qc.MAX_HISTORY)] = 100,
) -> list[ControlPublic]:
    """The control history of a kit lot in your district, newest first."""
    runs = qc.history(session, actor, lot_id=lot_id, kind=kind, limit=limit)
    return qc.views(session, runs, request_language(request))


@router.get("/lots/{lot_id}/chart.svg", response_class=Response)
def lot_chart(
    request: Request,
    session: SessionDep,
    actor: CurrentUser,
    lot_id: LotId,
    kind: Annotated[ControlKind | None, Query()] = None,
) -> Response:
    """A Levey-Jennings chart (SVG) of the lot's quantitative control runs in your district."""
    svg = qc.chart_svg(session, actor, lot_id, kind, request_language(request))
    return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "private, no-store"})


@router.post("/blind", status_code=201)
def register_blind(session: SessionDep, actor: CurrentUser, body: BlindCreate) -> BlindPublic:
    """Register a sample as a blind proficiency sample with its true outcome and value (administrator)."""
    blind = qc.register_blind(session, actor, body)
    session.commit()
    return next(b for b in qc.blind_list(session, actor, limit=1000) if b.id == blind.id)


@router.get("/blind")
def blind_samples(
    session: SessionDep, actor: CurrentUser, limit: Annotated[int, Query(ge=1, le=1000)] = 100
) -> list[BlindPublic]:
    """Blind samples with their true values and the testers' scores (administrators only)."""
    return qc.blind_list(session, actor, limit)


@router.get("/verification")
def method_verification(
    session: SessionDep,
    actor: CurrentUser,
    item: Annotated[str | None, Query(max_length=16)] = None,
    since: Annotated[SaneDay | None, Query()] = None,
) -> list[verification.Verification]:
    """Sensitivity, specificity, false-positive and false-negative rates per item and kit maker, from referral
    outcomes and scored blind samples, each with its count and 95 % Wilson interval (reviewer, administrator)."""
    return verification.compute(session, actor, item_code=item, since=since)
