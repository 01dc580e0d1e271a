"""Positive-result cases: list, read, and record the follow-up (retest request, outcome, disposal)."""

from __future__ import annotations

from fastapi import APIRouter

from lims.api.deps import CurrentUser, RowId, SessionDep
from lims.models.cases import CasePublic, Disposal, ReferralOutcome, RetestRequest
from lims.services.cases import procedure

router = APIRouter(prefix="/cases", tags=["cases"])
CaseId = RowId


@router.get("")
def list_cases(session: SessionDep, actor: CurrentUser, open_only: bool = False) -> list[CasePublic]:
    """Cases of your district (or your station's points), newest first."""
    return [procedure.public(session, c) for c in procedure.list_for(session, actor, open_only=open_only)]


@router.get("/{case_id}")
def read(session: SessionDep, actor: CurrentUser, case_id: CaseId) -> CasePublic:
    """One case with its stage and clocks."""
    return procedure.public(session, procedure.get_for(session, actor, case_id))


@router.post("/{case_id}/retest-request")
def retest_request(session: SessionDep, actor: CurrentUser, case_id: CaseId, body: RetestRequest) -> CasePublic:
    """The tested party asks for a retest at a qualified lab, within four hours of the notice."""
    case = procedure.request_retest(session, actor, case_id, body)
    session.commit()
    return procedure.public(session, case)


@router.post("/{case_id}/acceptance")
def acceptance(session: SessionDep, actor: CurrentUser, case_id: CaseId) -> CasePublic:
    """The tested party accepts the result."""
    case = procedure.accept(session, actor, case_id)
    session.commit()
    return procedure.public(session, case)


@router.post("/{case_id}/referral-outcome")
def referral_outcome(session: SessionDep, actor: CurrentUser, case_id: CaseId, body: ReferralOutcome) -> CasePublic:
    """The qualified lab's finding."""
    case = procedure.record_outcome(session, actor, case_id, body)
    session.commit()
    return procedure.public(session, case)


@router.post("/{case_id}/disposal")
def disposal(session: SessionDep, actor: CurrentUser, case_id: CaseId, body: Disposal) -> CasePublic:
    """Removal from sale (下架) or destruction (销毁) with the quantity; closes the case."""
    case = procedure.record_disposal(session, actor, case_id, body)
    session.commit()
    return procedure.public(session, case)
