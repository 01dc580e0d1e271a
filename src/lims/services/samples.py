"""Register, correct and read samples; label ids are issued here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from lims.models import District, FoodCategory, Sample, SampleVersion, SamplingPoint
from lims.models.common import Role, utcnow
from lims.models.samples import SampleCorrection, SampleCreate, SampleData, SamplePublic, SampleVersionPublic
from lims.services import audit, dates, gtin, plans
from lims.services.audit import Actor
from lims.services.auth import require_role
from lims.services.errors import Conflict, Invalid, NotFound
from lims.services.label_ids import MAX_PER_DAY, make_label_id


def _data(sample: SampleData) -> dict[str, Any]:
    return audit.snapshot_fields(sample, SampleData.model_fields)


def _validated(session: Session, data: SampleData) -> SampleData:
    if session.exec(select(FoodCategory.id).where(FoodCategory.code == data.category_code)).first() is None:
        raise Invalid(f"unknown food category {data.category_code!r}")
    if data.gtin:
        data.gtin = gtin.normalise(data.gtin)
    return data


def _next_label_id(session: Session, district: District, collected: datetime) -> str:
    day = collected.astimezone(UTC).date()
    prefix = f"{district.code}{day:%y%m%d}"
    count = session.exec(select(func.count()).select_from(Sample).where(col(Sample.label_id).startswith(prefix))).one()
    if count >= MAX_PER_DAY:
        raise Conflict(f"district {district.code} already has {MAX_PER_DAY} samples on {day}")
    return make_label_id(district.code, day, int(count) + 1)


def register(session: Session, actor: Actor, data: SampleCreate) -> Sample:
    """Register a sample at a sampling point and give it a label id."""
    require_role(actor, Role.TESTER)
    point = session.exec(select(SamplingPoint).where(SamplingPoint.code == data.point_code)).first()
    if point is None:
        raise Invalid(f"unknown sampling point {data.point_code!r}")
    district = session.get(District, actor.district_id)
    if district is None:
        raise Invalid("the signed-in user has no district")
    _validated(session, data)
    if data.task_ref:
        plans.check_task_ref(session, int(district.id or 0), int(point.id or 0), data.task_ref)
    collected = (data.collected_at or utcnow()).astimezone(UTC)
    if collected > utcnow():
        raise Invalid("collected_at is in the future")
    if session.get_bind().dialect.name == "postgresql":
        # Serialise label numbering within a district so two testers never get the same id.
        from sqlalchemy import text

        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": 5000 + int(district.id or 0)})
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


def _keep_version(session: Session, actor: Actor, sample: Sample, reason: str) -> None:
    """Store the sample's current data as a readable version, audited like the sample itself."""
    version = SampleVersion(
        sample_id=int(sample.id or 0),
        version=sample.version,
        data=_data(sample),
        reason=reason,
        recorded_by_id=int(actor.user_id or 0),
    )
    session.add(version)
    audit.record(session, actor, version, "version", None)


def get_for(session: Session, actor: Actor, label_id: str) -> Sample:
    """A sample of the actor's district by label id."""
    require_role(actor, Role.TESTER, Role.REVIEWER, Role.ADMIN)
    sample = session.exec(select(Sample).where(Sample.label_id == label_id.upper())).first()
    if sample is None or sample.district_id != actor.district_id:
        raise NotFound(f"no sample {label_id!r} in your district")
    return sample


def correct(session: Session, actor: Actor, label_id: str, correction: SampleCorrection) -> Sample:
    """Record a corrected version of a sample's data; earlier versions stay readable."""
    require_role(actor, Role.TESTER)
    sample = get_for(session, actor, label_id)
    data = _validated(session, SampleData.model_validate(correction, from_attributes=True))
    before = audit.snapshot(sample)
    for name, value in data.model_dump().items():
        setattr(sample, name, value)
    if audit.snapshot(sample) == before:
        raise Conflict("the correction changes nothing")
    sample.version += 1
    session.add(sample)
    session.flush()
    audit.record(session, actor, sample, "correct", before)
    _keep_version(session, actor, sample, correction.reason)
    return sample


def versions(session: Session, actor: Actor, label_id: str) -> list[SampleVersionPublic]:
    """Every version of a sample's data, oldest first."""
    sample = get_for(session, actor, label_id)
    rows = session.exec(
        select(SampleVersion).where(SampleVersion.sample_id == sample.id).order_by(col(SampleVersion.version))
    ).all()
    return [SampleVersionPublic.model_validate(row, from_attributes=True) for row in rows]


def public(session: Session, sample: Sample) -> SamplePublic:
    """The API view of a sample."""
    point = session.get(SamplingPoint, sample.point_id)
    assert point is not None
    return SamplePublic.model_validate({**sample.model_dump(), "point_code": point.code, "point_name": point.name})


def list_for(
    session: Session,
    actor: Actor,
    *,
    day: str | None = None,
    point_code: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[Sample]:
    """Samples of the actor's district, newest first, optionally for one day or point."""
    require_role(actor, Role.TESTER, Role.REVIEWER, Role.ADMIN)
    statement = select(Sample).where(Sample.district_id == actor.district_id)
    start = dates.day_start(day, "day")
    if start is not None:
        statement = statement.where(
            col(Sample.collected_at) >= start, col(Sample.collected_at) < start + timedelta(days=1)
        )
    if point_code:
        statement = statement.join(SamplingPoint).where(SamplingPoint.code == point_code)
    return list(session.exec(statement.order_by(col(Sample.id).desc()).offset(offset).limit(limit)).all())
