"""Results: submit raw data, correct, review (approve / reject), publish, archive, and shared listing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from lims.api.deps import CurrentUser, RowId, SessionDep
from lims.models.common import JudgementOutcome, ReviewAction
from lims.models.results import ResultCorrection, ResultPublic, ResultSubmit, ReviewDecision
from lims.services.results import records, reviewing

router = APIRouter(prefix="/results", tags=["results"])
ResultId = RowId


@router.post("", status_code=201)
def submit(session: SessionDep, actor: CurrentUser, body: ResultSubmit) -> ResultPublic:
    """Submit raw data (tester); the LIMS judges it and the result awaits review."""
    result = records.submit(session, actor, body)
    session.commit()
    return records.public_views(session, [result])[0]


@router.get("")
def shared_results(
    session: SessionDep,
    actor: CurrentUser,
    date_from: Annotated[str | None, Query(max_length=10)] = None,
    date_to: Annotated[str | None, Query(max_length=10)] = None,
    point: Annotated[str | None, Query(max_length=16)] = None,
    item: Annotated[str | None, Query(max_length=16)] = None,
    judgement: Annotated[JudgementOutcome | None, Query()] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1, description="only results older than this one")] = None,
) -> list[ResultPublic]:
    """Results you may see: your district's, or for station users every published result."""
    rows = records.search(
        session,
        actor,
        date_from=date_from,
        date_to=date_to,
        point_code=point,
        item_code=item,
        judgement=judgement,
        status=status,
        limit=limit,
        offset=offset,
        before_id=before_id,
    )
    return records.public_views(session, rows)


@router.get("/{result_id}")
def read(session: SessionDep, actor: CurrentUser, result_id: ResultId) -> ResultPublic:
    """One result with its raw data."""
    return records.public_views(session, [records.get_for(session, actor, result_id)])[0]


@router.post("/{result_id}/corrections", status_code=201)
def correct(session: SessionDep, actor: CurrentUser, result_id: ResultId, body: ResultCorrection) -> ResultPublic:
    """Replace a result awaiting review by a corrected version (tester)."""
    new = records.correct(session, actor, result_id, body)
    session.commit()
    return records.public_views(session, [new])[0]


@router.post("/{result_id}/{action}")
def review(
    session: SessionDep,
    actor: CurrentUser,
    result_id: ResultId,
    action: ReviewAction,
    body: ReviewDecision | None = None,
) -> ResultPublic:
    """Approve, reject (with a reason), publish or archive a result (reviewer, never the tester)."""
    body = body or ReviewDecision()
    result = reviewing.act(
        session, actor, result_id, action, reason=body.reason, acknowledge_flags=body.acknowledge_flags
    )
    session.commit()
    return records.public_views(session, [result])[0]
