"""Consumption-safety warnings: public list, publication and withdrawal by reviewers."""

from __future__ import annotations

from fastapi import APIRouter

from lims.api.deps import CurrentUser, RowId, SessionDep
from lims.models.cases import WarningBase, WarningPublic, WarningWithdraw
from lims.services.cases import warnings

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


@router.post("/{warning_id}/withdraw")
def withdraw(session: SessionDep, actor: CurrentUser, warning_id: RowId, body: WarningWithdraw) -> WarningPublic:
    """Withdraw a warning with a reason (reviewer of its district); it is kept, no longer shown."""
    warning = warnings.withdraw(session, actor, warning_id, body.reason)
    session.commit()
    return WarningPublic.model_validate(warning, from_attributes=True)
