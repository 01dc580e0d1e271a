"""Samples: register, read, list, correct (never delete); corrections of published samples are reviewed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from lims.api.deps import CurrentUser, LabelId, RowId, SessionDep
from lims.models.common import Decision
from lims.models.samples import (
    CorrectionDecision,
    CorrectionPublic,
    SampleCorrection,
    SampleCreate,
    SamplePublic,
    SampleVersionPublic,
)
from lims.services.samples import sampling

router = APIRouter(prefix="/samples", tags=["samples"])


@router.post("", status_code=201)
def register(session: SessionDep, actor: CurrentUser, body: SampleCreate) -> SamplePublic:
    """Register a sample (tester); the answer carries its label id."""
    sample = sampling.register(session, actor, body)
    session.commit()
    return sampling.public(session, sample)


@router.get("")
def list_samples(
    session: SessionDep,
    actor: CurrentUser,
    day: Annotated[str | None, Query(max_length=10)] = None,
    point: Annotated[str | None, Query(max_length=16)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[SamplePublic]:
    """Samples of your district, newest first."""
    rows = sampling.list_for(session, actor, day=day, point_code=point, limit=limit, offset=offset)
    return [sampling.public(session, s) for s in rows]


@router.get("/pending-corrections")
def pending_corrections(session: SessionDep, actor: CurrentUser) -> list[CorrectionPublic]:
    """Corrections of your district's published samples awaiting review, oldest first (reviewer)."""
    return sampling.pending_corrections(session, actor)


@router.get("/{label_id}")
def read(session: SessionDep, actor: CurrentUser, label_id: LabelId) -> SamplePublic:
    """One sample, current version."""
    return sampling.public(session, sampling.get_for(session, actor, label_id))


@router.post(
    "/{label_id}/corrections",
    responses={202: {"description": "The sample has published results: the correction awaits a reviewer"}},
)
def correct(
    session: SessionDep, actor: CurrentUser, label_id: LabelId, body: SampleCorrection, response: Response
) -> SamplePublic:
    """Record a corrected version (tester); the earlier version stays readable.

    While nothing of the sample is published the correction takes effect at once (200). Once a result
    is published it is a pending version (202, shown as `pending_correction`) that a reviewer other
    than you and the sample's tester approves before anyone sees it; one pending correction at a time.
    """
    sample = sampling.correct(session, actor, label_id, body)
    session.commit()
    if sample.pending_version is not None:
        response.status_code = 202
    return sampling.public(session, sample)


@router.post("/{label_id}/corrections/{version}/{action}")
def review_correction(
    session: SessionDep,
    actor: CurrentUser,
    label_id: LabelId,
    version: RowId,
    action: Decision,
    body: CorrectionDecision | None = None,
) -> SamplePublic:
    """Approve (the public then sees it) or reject (with a reason) a pending correction (reviewer, four-eyes)."""
    reason = body.reason if body else ""
    sample = sampling.review_correction(session, actor, label_id, version, action, reason=reason)
    session.commit()
    return sampling.public(session, sample)


@router.get("/{label_id}/versions")
def versions(session: SessionDep, actor: CurrentUser, label_id: LabelId) -> list[SampleVersionPublic]:
    """Every version of the sample's data, oldest first."""
    return sampling.versions(session, actor, label_id)
