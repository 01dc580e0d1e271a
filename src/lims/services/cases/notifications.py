"""Station notifications: positives approved at the station's points since the user last marked them read."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from lims.i18n import _N
from lims.models import NotificationMark, PositiveCase, Sample, SamplingPoint, TestItem, TestResult
from lims.models.common import Role
from lims.services.access.auth import require_role
from lims.services.core import atomic, audit, clock
from lims.services.core.audit import Actor
from lims.services.core.errors import Invalid


@dataclass(frozen=True)
class Notice:
    """A positive result approved at one of the station's points (a case was opened for it)."""

    case_id: int
    result_id: int
    sample_label_id: str
    product_name: str
    item_code: str
    item_name_zh: str
    item_name_en: str
    point_code: str
    point_name: str
    point_name_en: str
    opened_at: datetime


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def seen_until(session: Session, actor: Actor) -> datetime | None:
    """Up to when the user has read their notifications (None: never)."""
    mark = session.exec(select(NotificationMark).where(NotificationMark.user_id == actor.user_id)).first()
    return _aware(mark.seen_until) if mark else None


def unread(session: Session, actor: Actor, limit: int = 50) -> list[Notice]:
    """Positives approved at the station user's points, in their own district, after their read mark, newest first."""
    require_role(actor, Role.STATION)
    statement = (
        select(PositiveCase, Sample, TestItem, SamplingPoint)
        .join(TestResult, col(TestResult.id) == col(PositiveCase.result_id))
        .join(Sample, col(Sample.id) == col(TestResult.sample_id))
        .join(TestItem, col(TestItem.id) == col(TestResult.item_id))
        .join(SamplingPoint, col(SamplingPoint.id) == col(PositiveCase.point_id))
        .where(
            col(PositiveCase.district_id) == actor.district_id,
            col(SamplingPoint.district_id) == actor.district_id,
            col(SamplingPoint.station_id) == actor.station_id,
        )
    )
    mark = seen_until(session, actor)
    if mark is not None:
        statement = statement.where(col(PositiveCase.opened_at) > mark)
    rows = session.exec(statement.order_by(col(PositiveCase.opened_at).desc()).limit(limit)).all()
    return [
        Notice(
            case_id=int(case.id or 0),
            result_id=case.result_id,
            sample_label_id=sample.label_id,
            product_name=sample.product_name,
            item_code=item.code,
            item_name_zh=item.name_zh,
            item_name_en=item.name_en,
            point_code=point.code,
            point_name=point.name,
            point_name_en=point.name_en,
            opened_at=_aware(case.opened_at),
        )
        for case, sample, item, point in rows
    ]


def mark_read(session: Session, actor: Actor, until: datetime | None = None) -> datetime:
    """Mark the user's notifications read up to `until` (default now); the mark never moves back (a station
    user's positives, an administrator's stock conditions)."""
    require_role(actor, Role.STATION, Role.ADMIN)
    now = clock.now()
    until = _aware(until) if until else now
    if until > now:
        raise Invalid(
            "notifications.cannot_mark_notifications_read", _N("cannot mark notifications read in the future")
        )
    earlier = session.exec(select(NotificationMark).where(NotificationMark.user_id == actor.user_id)).first()
    before = audit.snapshot(earlier) if earlier is not None else None
    # One atomic upsert that only ever moves the mark forward: two tabs marking at once both succeed,
    # and the later of their marks stays.
    statement = atomic.upsert(session, NotificationMark).values(user_id=int(actor.user_id or 0), seen_until=until)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[col(NotificationMark.user_id)],
            set_={"seen_until": statement.excluded.seen_until},
            where=col(NotificationMark.seen_until) < statement.excluded.seen_until,
        )
    )
    mark = session.exec(
        select(NotificationMark)
        .where(NotificationMark.user_id == actor.user_id)
        .execution_options(populate_existing=True)
    ).one()
    if before is None or audit.snapshot(mark) != before:
        audit.record(session, actor, mark, "mark_read", before)
    return _aware(mark.seen_until)
