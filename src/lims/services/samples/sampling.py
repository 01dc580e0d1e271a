"""Register, correct and read samples; label ids are issued here; corrections of published samples are reviewed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import exists, func
from sqlmodel import Session, col, select

from lims.i18n import _N
from lims.models import District, Sample, SampleVersion, SamplingPoint, TestResult, User
from lims.models.common import Decision, Role
from lims.models.samples import (
    CorrectionPublic,
    LabelCounter,
    SampleCorrection,
    SampleCreate,
    SampleData,
    SamplePublic,
    SampleVersionPublic,
    VersionState,
)
from lims.services.access import districts
from lims.services.access.auth import require_role
from lims.services.core import atomic, audit, clock, dates, visibility
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, Forbidden, Invalid, NotFound
from lims.services.reference import gtin, reference_data
from lims.services.samples import plans
from lims.services.samples.label_ids import make_label_id, most_per_day, node_letter
from lims.settings import get_settings

REVIEW_ACTIONS: tuple[str, ...] = tuple(Decision)


def _data(sample: SampleData) -> dict[str, Any]:
    return audit.snapshot_fields(sample, SampleData.model_fields)


def _validated(session: Session, data: SampleData) -> SampleData:
    reference_data.require_category(session, data.category_code)
    if data.gtin:
        data.gtin = gtin.normalise(data.gtin)
    return data


def _next_in_sequence(session: Session, district_id: int, day: date) -> int:
    """The next number of a district's daily label sequence, taken atomically inside the transaction.

    One upsert of the (district, day) counter row: on PostgreSQL it locks that row until commit, so
    registrations of one district and day queue behind each other (other districts and days do not);
    on SQLite the statement takes the database's write lock, which the busy timeout waits for. A
    rolled-back registration gives its number back.
    """
    statement = (
        atomic.upsert(session, LabelCounter)
        .values(district_id=district_id, day=day, last=1)
        .on_conflict_do_update(
            index_elements=[col(LabelCounter.district_id), col(LabelCounter.day)],
            set_={"last": col(LabelCounter.last) + 1},
        )
        .returning(col(LabelCounter.last))
    )
    return int(session.execute(statement).scalar_one())


def _next_label_id(session: Session, district: District, collected: datetime) -> str:
    """The next label id of the district for its local date of `collected` (the sequence is taken atomically)."""
    day = clock.local_date(collected, district)
    node = _node_letter()
    sequence = _next_in_sequence(session, int(district.id or 0), day)
    if sequence > most_per_day(node):
        raise Conflict(
            "sampling.district_already_has_samples",
            _N("district {district_code} already has {most} samples on {day}"),
            district_code=district.code,
            most=most_per_day(node),
            day=day,
        )
    return make_label_id(district.code, day, sequence, node)


def _node_letter() -> str | None:
    """On a vehicle node, its node letter (its label ids never collide with the centre's or another vehicle's)."""
    settings = get_settings()
    if not settings.is_node:
        return None
    letter = node_letter(settings.node_vehicle)
    if letter is None:
        raise Invalid(
            "sampling.node_without_letter",
            _N("vehicle code {vehicle} must end in a number from 1 to 26 to give its samples label ids"),
            vehicle=settings.node_vehicle,
        )
    return letter


def register(session: Session, actor: Actor, data: SampleCreate) -> Sample:
    """Register a sample at a sampling point and give it a label id."""
    require_role(actor, Role.TESTER)
    point = districts.require_point(session, actor, data.point_code)
    district = session.get(District, actor.district_id)
    if district is None:
        raise Invalid("sampling.signed_user_has_no", _N("the signed-in user has no district"))
    _validated(session, data)
    if data.task_ref:
        plans.check_task_ref(session, int(district.id or 0), int(point.id or 0), data.task_ref)
    collected = (data.collected_at or clock.now()).astimezone(UTC)
    if collected > clock.now():
        raise Invalid("sampling.collected_future", _N("collected_at is in the future"))
    sample = Sample(
        **SampleData.model_validate(data, from_attributes=True).model_dump(),
        label_id=_next_label_id(session, district, collected),
        district_id=int(district.id or 0),
        point_id=int(point.id or 0),
        collected_at=collected,
        collected_by_id=int(actor.user_id or 0),
        task_ref=data.task_ref,
    )
    session.add(sample)
    session.flush()
    audit.record(session, actor, sample, "register", None)
    _keep_version(session, actor, sample, "registered")
    return sample


def _keep_version(
    session: Session,
    actor: Actor,
    sample: Sample,
    reason: str,
    *,
    number: int | None = None,
    data: SampleData | None = None,
    state: VersionState = VersionState.RECORDED,
) -> SampleVersion:
    """Store a version of the sample's data (by default its current data) readably, audited like the sample."""
    version = SampleVersion(
        sample_id=int(sample.id or 0),
        version=sample.version if number is None else number,
        data=_data(data or sample),
        reason=reason,
        recorded_by_id=int(actor.user_id or 0),
        state=state,
    )
    session.add(version)
    audit.record(session, actor, version, "request" if state == VersionState.PENDING else "version", None)
    return version


def find(session: Session, label_id: str, district_id: int | None = None) -> Sample | None:
    """The sample with `label_id` (in any letter case); only within `district_id` when one is given."""
    sample = session.exec(select(Sample).where(Sample.label_id == label_id.strip().upper())).first()
    if sample is None or (district_id is not None and sample.district_id != district_id):
        return None
    return sample


def get_for(session: Session, actor: Actor, label_id: str) -> Sample:
    """A sample of the actor's district by label id."""
    require_role(actor, Role.TESTER, Role.REVIEWER, Role.ADMIN)
    sample = find(session, label_id, actor.district_id)
    if sample is None:
        raise NotFound(
            "sampling.no_sample_your_district", _N("no sample {label_id!r} in your district"), label_id=label_id
        )
    return sample


def _shown_to_public(sample_id: int) -> Any:
    """SQL condition: the sample has a published or archived result (the public has seen its data)."""
    return exists().where(col(TestResult.sample_id) == sample_id, visibility.public_only())


def hold_for_publication(session: Session, sample_id: int) -> None:
    """Share-lock a sample while one of its results is published (PostgreSQL; SQLite has a single writer).

    A correction takes the same row's lock before it decides whether it needs review, so a publication
    and a correction at the same moment are ordered: either the correction lands first and is what gets
    published, or it sees the published result and waits for a reviewer.
    """
    session.execute(select(col(Sample.id)).where(col(Sample.id) == sample_id).with_for_update(read=True))


def _locked(session: Session, sample: Sample) -> Sample:
    """The sample re-read as it is now, under its row lock on PostgreSQL (waits for a publication in progress)."""
    statement = select(Sample).where(col(Sample.id) == sample.id).with_for_update()
    return session.exec(statement.execution_options(populate_existing=True)).one()


def _next_version(session: Session, sample: Sample) -> int:
    """The number of the sample's next version (rejected corrections keep theirs)."""
    last = session.exec(select(func.max(SampleVersion.version)).where(SampleVersion.sample_id == sample.id)).one()
    return int(last or 0) + 1


def correct(session: Session, actor: Actor, label_id: str, correction: SampleCorrection) -> Sample:
    """Record a corrected version of a sample's data; earlier versions stay readable.

    Before anything of the sample is published the correction takes effect at once. Once a result is
    published (or archived) it becomes a pending version that a reviewer must approve; until then the
    sample, its public page and its audit keep the published data. One pending correction at a time.
    """
    require_role(actor, Role.TESTER)
    sample = _locked(session, get_for(session, actor, label_id))
    data = _validated(session, SampleData.model_validate(correction, from_attributes=True))
    if sample.pending_version is not None:
        raise Conflict(
            "sampling.sample_already_has_correction",
            _N(
                "sample {sample_label_id} already has correction v{sample_pending_version} awaiting review; "
                "wait for the reviewer's decision"
            ),
            sample_label_id=sample.label_id,
            sample_pending_version=sample.pending_version,
        )
    if _data(data) == _data(sample):
        raise Conflict("sampling.correction_changes_nothing", _N("the correction changes nothing"))
    number = _next_version(session, sample)
    read_in = {"version": sample.version, "pending_version": None}
    before = audit.snapshot(sample)
    if session.exec(select(_shown_to_public(int(sample.id or 0)))).one():
        if not atomic.update_where(session, sample, read_in, {"pending_version": number}):
            session.rollback()
            raise Conflict(
                "sampling.sample_was_changed_someone",
                _N("sample {label_id} was changed by someone else; reload and try again"),
                label_id=label_id,
            )
        audit.record(session, actor, sample, "correction_requested", before)
        _keep_version(session, actor, sample, correction.reason, number=number, data=data, state=VersionState.PENDING)
        return sample
    changed = {**data.model_dump(), "version": number}
    if not atomic.update_where(session, sample, read_in, changed, ~_shown_to_public(int(sample.id or 0))):
        session.rollback()
        raise Conflict(
            "sampling.sample_was_changed_results",
            _N("sample {label_id} was changed or its results were published meanwhile; reload and try again"),
            label_id=label_id,
        )
    audit.record(session, actor, sample, "correct", before)
    _keep_version(session, actor, sample, correction.reason)
    return sample


def _party_to(actor: Actor, sample: Sample, pending: SampleVersion) -> bool:
    """Four-eyes: whoever asked for a correction or took the sample does not review it."""
    return actor.user_id in (pending.recorded_by_id, sample.collected_by_id)


def review_correction(
    session: Session, actor: Actor, label_id: str, version: int, action: str, *, reason: str = ""
) -> Sample:
    """Approve (the public then sees it) or reject (with a reason) a pending correction; never one's own."""
    if action not in REVIEW_ACTIONS:
        raise Invalid(
            "sampling.unknown_action_use_approve", _N("unknown action {action!r}; use approve or reject"), action=action
        )
    require_role(actor, Role.REVIEWER)
    sample = get_for(session, actor, label_id)
    pending = session.exec(
        select(SampleVersion).where(SampleVersion.sample_id == sample.id, SampleVersion.version == version)
    ).first()
    if pending is None:
        raise NotFound(
            "sampling.sample_has_no_version",
            _N("sample {sample_label_id} has no version {version}"),
            sample_label_id=sample.label_id,
            version=version,
        )
    if pending.state != VersionState.PENDING:
        raise Conflict(
            "sampling.version_sample_awaits_no",
            _N("version {version} of sample {sample_label_id} awaits no review: it is {pending_state}"),
            version=version,
            sample_label_id=sample.label_id,
            pending_state=pending.state,
        )
    if _party_to(actor, sample, pending):
        raise Forbidden(
            "sampling.four_eyes_rule_sample",
            _N("four-eyes rule: the sample's tester or the one who asked cannot review the correction"),
        )
    reason = reason.strip()
    if action == "reject" and len(reason) < 3:
        raise Invalid("sampling.rejection_needs_reason", _N("a rejection needs a reason"))
    values: dict[str, Any] = {"pending_version": None}
    if action == "approve":
        data = _validated(session, SampleData.model_validate(pending.data))
        values.update({**data.model_dump(), "version": version})
    before_version, before_sample = audit.snapshot(pending), audit.snapshot(sample)
    decided = {
        "state": VersionState.APPROVED if action == "approve" else VersionState.REJECTED,
        "reviewed_by_id": actor.user_id,
        "reviewed_at": clock.now(),
        "review_reason": reason,
    }
    if not atomic.update_where(session, pending, {"state": VersionState.PENDING}, decided) or not atomic.update_where(
        session, sample, {"pending_version": version}, values
    ):
        session.rollback()
        raise Conflict(
            "sampling.correction_v_sample_was",
            _N("correction v{version} of sample {label_id} was decided by someone else meanwhile"),
            version=version,
            label_id=label_id,
        )
    audit.record(session, actor, pending, action, before_version)
    audit.record(session, actor, sample, f"correction_{decided['state']}", before_sample)
    return sample


def _correction_view(sample: Sample, pending: SampleVersion, by: str, yours: bool = False) -> CorrectionPublic:
    current, proposed = _data(sample), dict(pending.data)
    return CorrectionPublic(
        sample_label_id=sample.label_id,
        version=pending.version,
        state=pending.state,
        reason=pending.reason,
        requested_by=by,
        requested_by_id=pending.recorded_by_id,
        requested_at=pending.recorded_at,
        current=current,
        proposed=proposed,
        changed=[name for name in SampleData.model_fields if current.get(name) != proposed.get(name)],
        yours=yours,
    )


def pending_corrections(session: Session, actor: Actor, limit: int = 200) -> list[CorrectionPublic]:
    """Corrections of the district's published samples awaiting review, oldest first."""
    require_role(actor, Role.REVIEWER, Role.ADMIN)
    rows = session.exec(
        select(Sample, SampleVersion, User.username)
        .join(SampleVersion, col(SampleVersion.sample_id) == col(Sample.id))
        .join(User, col(User.id) == col(SampleVersion.recorded_by_id))
        .where(
            col(Sample.district_id) == actor.district_id,
            col(SampleVersion.state) == VersionState.PENDING,
            col(SampleVersion.version) == col(Sample.pending_version),
        )
        .order_by(col(SampleVersion.recorded_at), col(SampleVersion.id))
        .limit(limit)
    ).all()
    return [_correction_view(sample, pending, by, _party_to(actor, sample, pending)) for sample, pending, by in rows]


def versions(session: Session, actor: Actor, label_id: str) -> list[SampleVersionPublic]:
    """Every version of a sample's data, oldest first."""
    sample = get_for(session, actor, label_id)
    rows = session.exec(
        select(SampleVersion).where(SampleVersion.sample_id == sample.id).order_by(col(SampleVersion.version))
    ).all()
    return [SampleVersionPublic.model_validate(row, from_attributes=True) for row in rows]


def public(session: Session, sample: Sample) -> SamplePublic:
    """The API view of a sample: the data in effect, and the correction awaiting review if there is one."""
    point = session.get(SamplingPoint, sample.point_id)
    assert point is not None
    pending = None
    if sample.pending_version is not None:
        row = session.exec(
            select(SampleVersion, User.username)
            .join(User, col(User.id) == col(SampleVersion.recorded_by_id))
            .where(SampleVersion.sample_id == sample.id, SampleVersion.version == sample.pending_version)
        ).one()
        pending = _correction_view(sample, *row)
    return SamplePublic.model_validate(
        {**sample.model_dump(), "point_code": point.code, "point_name": point.name, "pending_correction": pending}
    )


def list_for(
    session: Session,
    actor: Actor,
    *,
    day: str | None = None,
    point_code: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Sample]:
    """Samples of the actor's district, newest first, optionally for one (local) day or point."""
    require_role(actor, Role.TESTER, Role.REVIEWER, Role.ADMIN)
    statement = select(Sample).where(Sample.district_id == actor.district_id)
    within = dates.one_day(day, clock.zone_of(session, actor.district_id))
    statement = statement.where(*within.where(col(Sample.collected_at)))
    if point_code:
        statement = statement.join(SamplingPoint).where(
            SamplingPoint.district_id == actor.district_id, SamplingPoint.code == point_code
        )
    return list(session.exec(statement.order_by(col(Sample.id).desc()).offset(offset).limit(limit)).all())
