"""Consumption-safety warnings: public list, publication and withdrawal by reviewers, and their drafts."""

from __future__ import annotations

from fastapi import APIRouter

from lims.api.deps import CurrentUser, RowId, SessionDep
from lims.models.cases import (
    WarningBase,
    WarningDraftAct,
    WarningDraftEdit,
    WarningDraftPublic,
    WarningPublic,
    WarningWithdraw,
)
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


@router.get("/drafts")
def drafts(session: SessionDep, actor: CurrentUser) -> list[WarningDraftPublic]:
    """The district's draft warnings, newest first (reviewer); drafts are never public."""
    return [WarningDraftPublic.model_validate(w, from_attributes=True) for w in warnings.drafts(session, actor)]


@router.get("/drafts/{warning_id}")
def draft(session: SessionDep, actor: CurrentUser, warning_id: RowId) -> WarningDraftPublic:
    """One warning of the district as reviewers see it, draft or not, with the signal it was drafted from."""
    return WarningDraftPublic.model_validate(warnings.get_draft(session, actor, warning_id), from_attributes=True)


@router.put("/drafts/{warning_id}")
def edit_draft(
    session: SessionDep, actor: CurrentUser, warning_id: RowId, body: WarningDraftEdit
) -> WarningDraftPublic:
    """Edit a draft; 409 when someone changed it since the revision given."""
    warning = warnings.edit_draft(session, actor, warning_id, body)
    session.commit()
    return WarningDraftPublic.model_validate(warning, from_attributes=True)


@router.post("/drafts/{warning_id}/publish")
def publish_draft(
    session: SessionDep, actor: CurrentUser, warning_id: RowId, body: WarningDraftAct
) -> WarningDraftPublic:
    """Publish a draft as read at `revision`, numbered next in its year; of two reviewers at once, one gets 409."""
    warning = warnings.publish_draft(session, actor, warning_id, body.revision)
    session.commit()
    return WarningDraftPublic.model_validate(warning, from_attributes=True)


@router.post("/drafts/{warning_id}/discard")
def discard_draft(
    session: SessionDep, actor: CurrentUser, warning_id: RowId, body: WarningDraftAct
) -> WarningDraftPublic:
    """Set a draft aside (it stays on record, never public)."""
    warning = warnings.discard_draft(session, actor, warning_id, body.revision)
    session.commit()
    return WarningDraftPublic.model_validate(warning, from_attributes=True)
