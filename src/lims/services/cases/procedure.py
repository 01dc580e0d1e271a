"""Positive-result cases: which legal procedure applies, the results notice, suspension of sale, the sealed
sample, the retest request or referral, the lab's verdict, disposal, and their clocks.

The law this follows (Food Safety Law of the PRC, as amended 2021):
- art. 88 para. 2: when an edible agricultural product (食用农产品) is tested by a quick method, the party may
  ask for a retest within four hours of RECEIVING the result; the retest may not use a quick method.
- art. 112 para. 2: a food whose quick test shows it may not meet the standard is inspected under art. 87
  (sampling and inspection by a qualified lab); only that inspection is a basis for penalties.
- SAMR 2023 opinion on the use of food quick tests (关于规范食品快速检测使用的意见): a positive is told to the
  party in writing (快速检测结果告知书), the product's sale is suspended, and the result is screening, not an
  official sampling inspection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, col, select

from lims.i18n import _N
from lims.models import PositiveCase, Sample, SamplingPoint, TestItem, TestResult
from lims.models.cases import (
    CasePublic,
    Disposal,
    FilePurpose,
    LabVerdict,
    NoticeReceipt,
    Procedure,
    RetestRequest,
    SaleSuspension,
    SealNumber,
)
from lims.models.common import CaseState, Role
from lims.services.access.auth import require_role
from lims.services.cases import files
from lims.services.core import atomic, audit, clock
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, Forbidden, Invalid, NotFound
from lims.services.reference import reference_data
from lims.services.sharing import outbox


@dataclass(frozen=True)
class CaseClocks:
    """How long each step may take.

    `retest_window`: Food Safety Law art. 88 para. 2 (four hours from receiving the result). The others are
    this system's choices where the law gives no figure: the sale is to stop "at once" (立即暂停销售), so
    30 minutes after the case opens it is overdue; the lab has seven days; disposal follows within a day.
    """

    retest_window: timedelta = timedelta(hours=4)
    sale_suspension_within: timedelta = timedelta(minutes=30)
    referral_turnaround: timedelta = timedelta(days=7)
    disposal_within: timedelta = timedelta(hours=24)
    # A receipt time may lie this far after the server's clock (a phone's clock running ahead).
    receipt_clock_skew: timedelta = timedelta(minutes=5)


CLOCKS = CaseClocks()
# 资质认定证书编号 (CMA): twelve digits (year, issuing authority, field, serial), as printed beside the CMA mark.
CMA_NUMBER = re.compile(r"^[0-9]{12}$")


def procedure_for(session: Session, sample: Sample) -> Procedure:
    """Art. 88 (retest) for an edible agricultural product, art. 112 → 87 (inspection) for a processed food."""
    category = reference_data.category(session, sample.category_code)
    return Procedure.RETEST if category is None or category.edible_agricultural else Procedure.INSPECTION


def open_case(session: Session, actor: Actor, result: TestResult) -> PositiveCase:
    """Open a case for an approved positive. The four hours start only when the party receives the notice; a
    processed food is referred to a qualified lab at once (art. 112 → 87)."""
    sample = session.get(Sample, result.sample_id)
    assert sample is not None
    now = clock.now()
    procedure = procedure_for(session, sample)
    referred = procedure == Procedure.INSPECTION
    case = PositiveCase(
        result_id=int(result.id or 0),
        district_id=result.district_id,
        point_id=sample.point_id,
        opened_at=now,
        procedure=procedure,
        referred_at=now if referred else None,
        referral_due=now + CLOCKS.referral_turnaround if referred else None,
    )
    session.add(case)
    session.flush()
    audit.record(session, actor, case, "open", None)
    return case


def disposal_from(case: PositiveCase) -> datetime | None:
    """When the goods became due for disposal, if they have."""
    if case.referral_outcome == "confirmed":
        return case.referral_outcome_at
    if case.party_accepted_at:
        return case.party_accepted_at
    if case.retest_requested_at is None and case.retest_deadline is not None:
        return case.retest_deadline
    return None


def stage(case: PositiveCase, now: datetime) -> str:
    """Where the case stands: notice, awaiting_party, referral, disposal or closed."""
    if case.closed_at:
        return "closed"
    if case.referral_outcome is None and (case.retest_requested_at or case.referred_at):
        return "referral"
    if case.procedure == Procedure.RETEST and case.referral_outcome is None and case.party_accepted_at is None:
        if case.retest_deadline is None:
            return "notice"
        if case.retest_requested_at is None and now < case.retest_deadline:
            return "awaiting_party"
    return "disposal"


def public_state(case: PositiveCase, now: datetime) -> CaseState:
    """What the public is told of the case: screening positive, retest in progress, confirmed, cleared, no retest.

    Until the party has received the notice the four hours have not started: still screening positive. A
    processed food referred for inspection is in progress (复检中) from its referral."""
    if case.referral_outcome == "confirmed":
        return CaseState.CONFIRMED
    if case.referral_outcome == "not_confirmed":
        return CaseState.CLEARED
    if case.retest_requested_at is not None or case.referred_at is not None:
        return CaseState.RETEST_IN_PROGRESS
    if case.party_accepted_at is not None:
        return CaseState.NO_RETEST
    if case.retest_deadline is not None and now >= case.retest_deadline:
        return CaseState.NO_RETEST
    return CaseState.SCREENING_POSITIVE


def state_of_result(session: Session, result_id: int, now: datetime) -> CaseState | None:
    """The public state of the case of a result, None when it has none (it is no approved positive)."""
    case = session.exec(select(PositiveCase).where(PositiveCase.result_id == result_id)).first()
    return None if case is None else public_state(case, now)


def sale_suspension_overdue(case: PositiveCase, now: datetime) -> bool:
    """Whether the suspension of sale is still unrecorded past its short clock."""
    return (
        case.closed_at is None
        and case.sale_suspended_at is None
        and now > case.opened_at + CLOCKS.sale_suspension_within
    )


def overdue(case: PositiveCase, now: datetime) -> bool:
    """Whether a clock of the case has run out (the sale suspension's, the lab's or the disposal's)."""
    if sale_suspension_overdue(case, now):
        return True
    current = stage(case, now)
    if current == "referral":
        return case.referral_due is not None and now > case.referral_due
    if current == "disposal":
        since = disposal_from(case)
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
CASE_STATE = (
    "status",
    "notified_at",
    "retest_requested_at",
    "party_accepted_at",
    "referral_outcome",
    "disposal_at",
    "closed_at",
)


# Who may record what happens at the stall (the notice handed over, the sale stopped): the tester who found the
# positive is usually there, as are the district's reviewers and the point's station.
AT_THE_STALL = (Role.REVIEWER, Role.STATION, Role.TESTER)


def _change(
    session: Session,
    actor: Actor,
    case: PositiveCase,
    action: str,
    guard: tuple[str, ...] = CASE_STATE,
    roles: tuple[Role, ...] = (Role.REVIEWER, Role.STATION),
    **values: object,
) -> PositiveCase:
    """Apply a transition as one conditional update: of two people acting at once, exactly one moves the case."""
    require_role(actor, *roles)
    if case.closed_at:
        raise Conflict("procedure.case_closed", _N("case {case_id} is closed"), case_id=case.id)
    before = audit.snapshot(case)
    read_in = {name: getattr(case, name) for name in guard}
    if not atomic.update_where(session, case, read_in, values):
        session.rollback()
        raise Conflict(
            "procedure.case_was_changed_someone",
            _N("case {case_id} was changed by someone else at the same moment; reload it and try again"),
            case_id=case.id,
        )
    audit.record(session, actor, case, action, before)
    return case


def _sample_of(session: Session, case: PositiveCase) -> Sample:
    result = session.get(TestResult, case.result_id)
    assert result is not None
    sample = session.get(Sample, result.sample_id)
    assert sample is not None
    return sample


def deliver_notice(session: Session, actor: Actor, case_id: int, body: NoticeReceipt) -> PositiveCase:
    """Record that the party received the results notice: how, when, and who took it (name and role).

    The four hours of art. 88 run from this receipt; a notice received after the local day the positive was
    approved is flagged late, and the deadline still runs from receipt."""
    case = get_for(session, actor, case_id)
    if case.notified_at is not None:
        raise Conflict("procedure.notice_already_delivered", _N("the results notice is already recorded as received"))
    now = clock.now()
    received = body.received_at or now
    if received < case.opened_at or received > now + CLOCKS.receipt_clock_skew:
        raise Invalid(
            "procedure.receipt_time_outside",
            _N("the notice cannot have been received at {received}: the case opened at {opened} and it is now {now}"),
            received=received.isoformat(),
            opened=case.opened_at.isoformat(),
            now=now.isoformat(),
        )
    # Late: received after the local day the positive was approved (the 2023 opinion asks for the result to be
    # told 及时 without a figure; the same working day is this system's reading).
    zone = clock.zone_of(session, case.district_id)
    late = clock.local_date(received, zone) > clock.local_date(case.opened_at, zone)
    deadline = received + CLOCKS.retest_window if case.procedure == Procedure.RETEST else None
    return _change(
        session,
        actor,
        case,
        "notice_received",
        ("notified_at", "closed_at"),
        AT_THE_STALL,
        notified_at=received,
        retest_deadline=deadline,
        notice_delivery=body.delivery,
        notice_recipient=body.recipient.strip(),
        notice_recipient_role=body.recipient_role.strip(),
        notice_late=late,
        notice_recorded_by_id=actor.user_id,
    )


def suspend_sale(session: Session, actor: Actor, case_id: int, body: SaleSuspension) -> PositiveCase:
    """Record 暂停销售 of the product at the stall now: who confirmed it there, and (the actor) who recorded it."""
    case = get_for(session, actor, case_id)
    if case.sale_suspended_at is not None:
        raise Conflict("procedure.sale_already_suspended", _N("the suspension of sale is already recorded"))
    return _change(
        session,
        actor,
        case,
        "sale_suspended",
        ("sale_suspended_at", "closed_at"),
        AT_THE_STALL,
        sale_suspended_at=clock.now(),
        sale_suspension_confirmed_by=body.confirmed_by.strip(),
        sale_suspension_recorded_by_id=actor.user_id,
    )


def seal_sample(session: Session, actor: Actor, case_id: int, body: SealNumber) -> Sample:
    """Add the seal number of the retained sample (备样封条号) when registration did not record one."""
    case = get_for(session, actor, case_id)
    require_role(actor, *AT_THE_STALL)
    sample = _sample_of(session, case)
    if sample.seal_number:
        raise Conflict(
            "procedure.seal_already_recorded",
            _N("the retained sample already has seal number {seal_number}"),
            seal_number=sample.seal_number,
        )
    before = audit.snapshot(sample)
    if not atomic.update_where(session, sample, {"seal_number": ""}, {"seal_number": body.seal_number.strip()}):
        session.rollback()
        raise Conflict(
            "procedure.case_was_changed_someone",
            _N("case {case_id} was changed by someone else at the same moment; reload it and try again"),
            case_id=case.id,
        )
    audit.record(session, actor, sample, "seal", before)
    return sample


def _party_may_answer(case: PositiveCase) -> None:
    """Conflict unless the party may still ask for a retest or accept: art. 88 applies and the notice was received."""
    if case.procedure != Procedure.RETEST:
        raise Conflict(
            "procedure.processed_food_inspected",
            _N(
                "a processed food is inspected by a qualified lab (Food Safety Law art. 112, 87); "
                "there is no four-hour retest"
            ),
        )
    if case.retest_requested_at or case.party_accepted_at:
        raise Conflict(
            "procedure.party_has_already_asked", _N("the party has already asked for a retest or accepted the result")
        )
    if case.retest_deadline is None:
        raise Conflict(
            "procedure.notice_not_received",
            _N("the party has not received the results notice yet; record its receipt first"),
        )


def request_retest(session: Session, actor: Actor, case_id: int, body: RetestRequest) -> PositiveCase:
    """The party asks for a retest within four hours of receiving the notice; it goes to a qualified lab, by a
    method other than a quick test (art. 88), on the sealed retained sample the request names."""
    case = get_for(session, actor, case_id)
    _party_may_answer(case)
    now = clock.now()
    assert case.retest_deadline is not None
    if now > case.retest_deadline:
        raise Conflict(
            "procedure.retest_window_closed",
            _N("the retest window closed at {deadline}"),
            deadline=case.retest_deadline.isoformat(),
        )
    sample = _sample_of(session, case)
    if not sample.seal_number:
        raise Conflict(
            "procedure.no_seal_number",
            _N("the retained sample has no seal number yet; record the seal number first"),
        )
    if body.seal_number.strip() != sample.seal_number:
        raise Invalid(
            "procedure.seal_number_mismatch",
            _N("seal number {given!r} is not the seal of the retained sample"),
            given=body.seal_number.strip(),
        )
    return _change(
        session,
        actor,
        case,
        "retest_requested",
        retest_requested_at=now,
        retest_seal_number=sample.seal_number,
        referral_lab=body.lab.strip(),
        referral_due=now + CLOCKS.referral_turnaround,
    )


def accept(session: Session, actor: Actor, case_id: int) -> PositiveCase:
    """The party accepts the result without a retest."""
    case = get_for(session, actor, case_id)
    _party_may_answer(case)
    return _change(session, actor, case, "accepted", party_accepted_at=clock.now())


def record_verdict(
    session: Session, actor: Actor, case_id: int, body: LabVerdict, report: files.Upload
) -> PositiveCase:
    """The qualified lab's verdict with its report (PDF), recorded by a reviewer of the district only: station
    users may not, since their station is often run by the tested market. Not confirmed closes the case."""
    if actor.role != Role.REVIEWER:
        raise Forbidden(
            "procedure.verdict_reviewers_only",
            _N("only a reviewer of the district may record the lab's verdict"),
        )
    case = get_for(session, actor, case_id)
    if case.retest_requested_at is None and case.referred_at is None:
        raise Conflict("procedure.no_retest_was_requested", _N("no retest was requested for this case"))
    if case.referral_outcome is not None:
        raise Conflict("procedure.lab_outcome_already_recorded", _N("the lab outcome is already recorded"))
    if not CMA_NUMBER.match(body.cma.strip()):
        raise Invalid(
            "procedure.cma_number_format",
            _N("CMA number {cma!r} is not the 12 digits of an accreditation certificate"),
            cma=body.cma,
        )
    content_type = files.check_report(report)
    now = clock.now()
    cleared = body.outcome == "not_confirmed"  # not confirmed closes the case; confirmed goes on to disposal
    stored = files.store(session, actor, case, FilePurpose.LAB_REPORT, report.data, content_type)
    decided = _change(
        session,
        actor,
        case,
        "verdict",
        CASE_STATE,
        referral_outcome=body.outcome,
        referral_outcome_at=now,
        verdict_lab=body.lab.strip(),
        verdict_cma=body.cma.strip(),
        verdict_report_number=body.report_number.strip(),
        verdict_method=body.method.strip(),
        verdict_analyte=body.analyte.strip(),
        verdict_value=body.value,
        verdict_unit=body.unit.strip(),
        verdict_limit=body.limit.strip(),
        verdict_clause=body.clause.strip(),
        verdict_report_id=stored.id,
        verdict_recorded_by_id=actor.user_id,
        closed_at=now if cleared else None,
        status="closed" if cleared else case.status,
    )
    outbox.case_decided(session, decided, public_state(decided, now))
    return decided


def record_disposal(
    session: Session, actor: Actor, case_id: int, body: Disposal, photos: list[files.Upload] | None = None
) -> PositiveCase:
    """What was done with the goods, with the quantity (0 when sold out, with a note), the officer, the witness,
    the operator's acknowledgement, photos and the supplier to trace; closes the case."""
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
    if body.quantity == 0 and len(body.note.strip()) < 2:
        raise Invalid(
            "procedure.zero_quantity_needs_note",
            _N("a quantity of 0 needs a note saying why (for example: sold out before the test)"),
        )
    supplier = body.supplier.strip() or _sample_of(session, case).supplier
    _attach(session, actor, case, photos or [])
    return _change(
        session,
        actor,
        case,
        "disposal",
        disposal_action=body.action,
        disposal_quantity=body.quantity,
        disposal_unit=body.unit.strip(),
        disposal_note=body.note.strip(),
        disposal_officer=body.officer.strip(),
        disposal_witness=body.witness.strip(),
        disposal_acknowledged_by=body.acknowledged_by.strip(),
        disposal_supplier=supplier,
        disposal_purchase_record=body.purchase_record.strip(),
        disposal_at=now,
        closed_at=now,
        status="closed",
    )


def _attach(session: Session, actor: Actor, case: PositiveCase, photos: list[files.Upload]) -> None:
    """Check and store disposal photos of an open case (at most `files.MAX_PHOTOS` in all)."""
    require_role(actor, Role.REVIEWER, Role.STATION)
    if case.closed_at:
        raise Conflict("procedure.case_closed", _N("case {case_id} is closed"), case_id=case.id)
    if not photos:
        return
    already = case.photo_count
    types = files.check_photos(photos, already)
    # The count is claimed in one conditional update, so two uploads at once cannot together pass the cap.
    _change(session, actor, case, "photos_attached", ("photo_count", "closed_at"), photo_count=already + len(photos))
    for upload, content_type in zip(photos, types, strict=True):
        files.store(session, actor, case, FilePurpose.DISPOSAL_PHOTO, upload.data, content_type)


def attach_photos(session: Session, actor: Actor, case_id: int, photos: list[files.Upload]) -> PositiveCase:
    """Attach photos of the disposal (or of the goods at the stall) to an open case."""
    case = get_for(session, actor, case_id)
    if not photos:
        raise Invalid("procedure.no_photo_given", _N("no photo was given"))
    _attach(session, actor, case, photos)
    return case


def public(session: Session, case: PositiveCase) -> CasePublic:
    """The API view of a case with its procedure, stage, public state and clocks."""
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
            "seal_number": sample.seal_number,
            "stage": stage(case, now),
            "state": public_state(case, now),
            "overdue": overdue(case, now),
            "sale_suspension_missing": case.sale_suspended_at is None,
            "sale_suspension_overdue": sale_suspension_overdue(case, now),
            "photo_ids": [f.id for f in files.of_case(session, case, FilePurpose.DISPOSAL_PHOTO)],
        }
    )
