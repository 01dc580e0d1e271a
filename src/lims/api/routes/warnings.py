"""Consumption-safety warnings: public list, publication by reviewers."""

from __future__ import annotations

from fastapi import APIRouter

from lims.api.deps import CurrentUser, SessionDep
from lims.models.cases import WarningBase, WarningPublic
from lims.services import warnings

router = APIRouter(prefix="/warnings", tags=["warnings"])


@router.get("")
def active_warnings(session: SessionDep) -> list[WarningPublic]:
    """Warnings in force now (public, no sign-in)."""
    return [WarningPublic.model_validate(w, from_attributes=True) for w in warnings.active(session)]


@router.post("", status_code=201)
def publish(session: SessionDep, actor: CurrentUser, body: WarningBase) -> WarningPublic:
    """Publish a warning (reviewer)."""
    warning = warnings.publish(session, actor, body)
    session.commit()
    return WarningPublic.model_validate(warning, from_attributes=True)
