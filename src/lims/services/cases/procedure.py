"""Positive-result cases: notice, the four-hour retest window, lab referral, disposal, and their clocks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from lims.i18n import _N
from lims.models import PositiveCase, Sample, SamplingPoint, TestItem, TestResult
from lims.models.cases import CasePublic, Disposal, ReferralOutcome, RetestRequest
from lims.models.common import CaseState, Role
from lims.services.access.auth import require_role
from lims.services.core import atomic, audit, clock
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, NotFound


@dataclass(frozen=True)
class CaseClocks:
    """How long each step may take (Food Safety Law art. 88 sets the four-hour retest request window)."""

    retest_window: timedelta = timedelta(hours=4)
    referral_turnaround: timedelta = timedelta(days=7)
    disposal_within: timedelta = timedelta(hours=24)


CLOCKS = CaseClocks()


def open_case(session: Session, actor: Actor, result: TestResult) -> PositiveCase:
    """Open a case for an approved positive: the party is told now and may ask for a retest for four hours."""
    sample = session.get(Sample, result.sample_id)
    assert sample is not None
    now = clock.now()
    case = PositiveCase(
        result_id=int(result.id or 0),
        district_id=result.district_id,
        point_id=sample.point_id,
        opened_at=now,
        notified_at=now,
        retest_deadline=now + CLOCKS.retest_window,
    )
    session.add(case)
    session.flush()
    audit.record(session, actor, case, "open", None)
    return case


def _disposal_from(case: PositiveCase) -> datetime | None:
    """When the goods became due for disposal, if they have."""
    if case.referral_outcome == "confirmed":
        return case.referral_outcome_at
    if case.party_accepted_at:
        return case.party_accepted_at
    if case.retest_requested_at is None:
        return case.retest_deadline
    return None


def stage(case: PositiveCase, now: datetime) -> str:
    """Where the case stands: awaiting_party, referral, disposal or closed."""
    if case.closed_at:
        return "closed"
    if case.retest_requested_at and case.referral_outcome is None:
        return "referral"
    if case.retest_requested_at is None and case.party_accepted_at is None and now < case.retest_deadline:
        return "awaiting_party"
    return "disposal"


def public_state(case: PositiveCase, now: datetime) -> CaseState:
    """What the public is told of the case: screening positive, retest in progress, confirmed, cleared, no retest."""
    if case.referral_outcome == "confirmed":
        return CaseState.CONFIRMED
    if case.referral_outcome == "not_confirmed":
        return CaseState.CLEARED
    if case.retest_requested_at is not None:
        return CaseState.RETEST_IN_PROGRESS
    if case.party_accepted_at is not None or now >= case.retest_deadline:
        return CaseState.NO_RETEST
    return CaseState.SCREENING_POSITIVE


def overdue(case: PositiveCase, now: datetime) -> bool:
    """Whether a clock of the case has run out."""
    current = stage(case, now)
    if current == "referral":
        return case.referral_due is not None and now > case.referral_due
    if current == "disposal":
        since = _disposal_from(case)
        return since is not None and now > since + CLOCKS.disposal_within
    return False


def _visible(session: Session, actor: Actor, case: PositiveCase) -> None:
    """NotFound, worded as for a case that does not exist, unless the case is the actor's district's (and, for
    station staff, at one of their station's points)."""
    visible = case.district_id == actor.district_id
    if visible and actor.role == Role.STATION:
        point = session.get(SamplingPoint, case.point_id)
        visible = point is not None and point.district_id == case.district_id and point.station_id == actor.station_id
    if not visible:
        raise NotFound("procedure.no_case", _N("no case {case_id}"), case_id=case.id)


def get_for(session: Session, actor: Actor, case_id: int) -> PositiveCase:
    """A case the actor may follow up."""
    require_role(actor, Role.REVIEWER, Role.STATION, Role.ADMIN, Role.TESTER)
    case = session.get(PositiveCase, case_id)
    if case is None:
        raise NotFound("procedure.no_case", _N("no case {case_id}"), case_id=case_id)
    _visible(session, actor, case)
    return case


def list_for(session: Session, actor: Actor, *, open_only: bool = False) -> list[PositiveCase]:
    """Cases of the actor's district, or of a station user's points."""
    require_role(actor, Role.REVIEWER, Role.STATION, Role.ADMIN, Role.TESTER)
    statement = select(PositiveCase).where(PositiveCase.district_id == actor.district_id)
    if actor.role == Role.STATION:
        statement = statement.join(SamplingPoint).where(
            SamplingPoint.district_id == actor.district_id, SamplingPoint.station_id == actor.station_id
        )
    if open_only:
        statement = statement.where(PositiveCase.status == "open")
    return list(session.exec(statement.order_by(col(PositiveCase.id).desc())).all())


# What decides where a case stands; a transition applies only while these still hold what was read.
CASE_STATE = ("status", "retest_requested_at", "party_accepted_at", "referral_outcome", "disposal_at", "closed_at")


def _change(session: Session, actor: Actor, case: PositiveCase, action: str, **values: object) -> PositiveCase:
    """Apply a transition as one conditional update: of two people acting at once, exactly one moves the case."""
    require_role(actor, Role.REVIEWER, Role.STATION)
    if case.closed_at:
        raise Conflict("procedure.case_closed", _N("case {case_id} is closed"), case_id=case.id)
    before = audit.snapshot(case)
    read_in = {name: getattr(case, name) for name in CASE_STATE}
    if not atomic.update_where(session, case, read_in, values):
        session.rollback()
        raise Conflict(
            "procedure.case_was_changed_someone",
            _N("case {case_id} was changed by someone else at the same moment; reload it and try again"),
            case_id=case.id,
        )
    audit.record(session, actor, case, action, before)
    return case


def request_retest(session: Session, actor: Actor, case_id: int, body: RetestRequest) -> PositiveCase:
    """The party asks for a retest within the window; it goes to a qualified lab (not a quick test)."""
    case = get_for(session, actor, case_id)
    now = clock.now()
    if case.retest_requested_at or case.party_accepted_at:
        raise Conflict(
            "procedure.party_has_already_asked", _N("the party has already asked for a retest or accepted the result")
        )
    if now > case.retest_deadline:
        raise Conflict(
            "procedure.retest_window_closed",
            _N("the retest window closed at {deadline}"),
            deadline=case.retest_deadline.isoformat(),
        )
    return _change(
        session,
        actor,
        case,
        "retest_requested",
        retest_requested_at=now,
        referral_lab=body.lab,
        referral_due=now + CLOCKS.referral_turnaround,
    )


def accept(session: Session, actor: Actor, case_id: int) -> PositiveCase:
    """The party accepts the result without a retest."""
    case = get_for(session, actor, case_id)
    if case.retest_requested_at or case.party_accepted_at:
        raise Conflict(
            "procedure.party_has_already_asked", _N("the party has already asked for a retest or accepted the result")
        )
    return _change(session, actor, case, "accepted", party_accepted_at=clock.now())


def record_outcome(session: Session, actor: Actor, case_id: int, body: ReferralOutcome) -> PositiveCase:
    """The qualified lab's finding; not confirmed closes the case without disposal."""
    case = get_for(session, actor, case_id)
    if case.retest_requested_at is None:
        raise Conflict("procedure.no_retest_was_requested", _N("no retest was requested for this case"))
    if case.referral_outcome is not None:
        raise Conflict("procedure.lab_outcome_already_recorded", _N("the lab outcome is already recorded"))
    now = clock.now()
    closing = {"closed_at": now, "status": "closed"} if body.outcome == "not_confirmed" else {}
    return _change(
        session,
        actor,
        case,
        "referral_outcome",
        referral_outcome=body.outcome,
        referral_outcome_at=now,
        **closing,
    )


def record_disposal(session: Session, actor: Actor, case_id: int, body: Disposal) -> PositiveCase:
    """Removal from sale or destruction, with the quantity; closes the case."""
    case = get_for(session, actor, case_id)
    now = clock.now()
    if stage(case, now) != "disposal":
        raise Conflict(
            "procedure.case_stage_disposal_comes",
            _N(
                "the case is at stage {stage}; disposal comes after the party accepts, the lab confirms, "
                "or the retest window passes"
            ),
            stage=stage(case, now),
        )
    return _change(
        session,
        actor,
        case,
        "disposal",
        disposal_action=body.action,
        disposal_quantity=body.quantity,
        disposal_unit=body.unit,
        disposal_at=now,
        closed_at=now,
        status="closed",
    )


def public(session: Session, case: PositiveCase) -> CasePublic:
    """The API view of a case with its current stage and whether it is overdue."""
    now = clock.now()
    result = session.get(TestResult, case.result_id)
    assert result is not None
    sample = session.get(Sample, result.sample_id)
    item = session.get(TestItem, result.item_id)
    point = session.get(SamplingPoint, case.point_id)
    assert sample is not None and item is not None and point is not None
    return CasePublic.model_validate(
        {
            **case.model_dump(),
            "id": case.id,
            "sample_label_id": sample.label_id,
            "item_code": item.code,
            "point_code": point.code,
            "stage": stage(case, now),
            "overdue": overdue(case, now),
        }
    )
