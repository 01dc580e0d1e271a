"""Samples: register, read, list, correct (never delete)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from lims.api.deps import CurrentUser, SessionDep
from lims.models.samples import SampleCorrection, SampleCreate, SamplePublic, SampleVersionPublic
from lims.services import samples

router = APIRouter(prefix="/samples", tags=["samples"])
LabelId = Annotated[str, Path(min_length=1, max_length=12, pattern=r"^[A-Za-z0-9]+$")]


@router.post("", status_code=201)
def register(session: SessionDep, actor: CurrentUser, body: SampleCreate) -> SamplePublic:
    """Register a sample (tester); the answer carries its label id."""
    sample = samples.register(session, actor, body)
    session.commit()
    return samples.public(session, sample)


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
    rows = samples.list_for(session, actor, day=day, point_code=point, limit=limit, offset=offset)
    return [samples.public(session, s) for s in rows]


@router.get("/{label_id}")
def read(session: SessionDep, actor: CurrentUser, label_id: LabelId) -> SamplePublic:
    """One sample, current version."""
    return samples.public(session, samples.get_for(session, actor, label_id))


@router.post("/{label_id}/corrections")
def correct(session: SessionDep, actor: CurrentUser, label_id: LabelId, body: SampleCorrection) -> SamplePublic:
    """Record a corrected version; the earlier version stays readable."""
    sample = samples.correct(session, actor, label_id, body)
    session.commit()
    return samples.public(session, sample)


@router.get("/{label_id}/versions")
def versions(session: SessionDep, actor: CurrentUser, label_id: LabelId) -> list[SampleVersionPublic]:
    """Every version of the sample's data, oldest first."""
    return samples.versions(session, actor, label_id)
