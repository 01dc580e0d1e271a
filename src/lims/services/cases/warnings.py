"""Consumption-safety warnings (消费警示): published by reviewers, read by everyone."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, or_
from sqlmodel import Session, col, select

from lims.i18n import _N
from lims.models import PublicWarning, bounds
from lims.models.cases import WarningBase
from lims.models.common import Role
from lims.services.access.auth import require_role
from lims.services.core import atomic, audit, clock, dates
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, Invalid, NotFound
from lims.services.reference import gtin, reference_data
from lims.services.sharing import outbox


def valid_until(session: Session, actor: Actor, day: str | None, field: str = "valid-until") -> datetime | None:
    """When a warning valid until `day` (`YYYY-MM-DD`, empty for no end) expires: the end of that local day."""
    last_day = dates.day(day, field)
    return None if last_day is None else clock.end_of_day(last_day, clock.zone_of(session, actor.district_id))


def publish(session: Session, actor: Actor, data: WarningBase) -> PublicWarning:
    """Publish a warning now."""
    require_role(actor, Role.REVIEWER)
    if data.item_code:
        reference_data.item(session, data.item_code)
    if data.category_code:
        reference_data.require_category(session, data.category_code)
    if data.expires_at is not None and data.expires_at <= clock.now():
        raise Invalid("warnings.expires_past", _N("expires_at is in the past"))
    if data.expires_at is not None and data.expires_at > clock.now() + bounds.WARNING_HORIZON:
        raise Invalid(
            "warnings.expires_more_than_days",
            _N("expires_at is more than {days} days ahead; a warning is about a present risk"),
            days=bounds.WARNING_HORIZON.days,
        )
    values = data.model_dump()
    if values["gtin"]:
        values["gtin"] = gtin.normalise(values["gtin"])
    warning = PublicWarning(**values, district_id=int(actor.district_id or 0), published_by_id=int(actor.user_id or 0))
    session.add(warning)
    session.flush()
    audit.record(session, actor, warning, "publish", None)
    outbox.warning_published(session, warning)
    return warning


def withdraw(session: Session, actor: Actor, warning_id: int, reason: str) -> PublicWarning:
    """Withdraw a warning of the reviewer's district now; it leaves every public list, its record stays."""
    require_role(actor, Role.REVIEWER)
    warning = session.get(PublicWarning, warning_id)
    if warning is None or (actor.district_id is not None and warning.district_id != actor.district_id):
        raise NotFound(
            "warnings.no_warning", _N("no warning {warning_id}"), warning_id=warning_id
        )  # another district's warning is answered as no warning
    if warning.withdrawn_at is not None:
        raise Conflict(
            "warnings.warning_was_already_withdrawn",
            _N("warning {warning_id} was already withdrawn"),
            warning_id=warning_id,
        )
    reason = reason.strip()
    if len(reason) < 2:
        raise Invalid("warnings.withdrawal_needs_reason", _N("a withdrawal needs a reason"))
    before = audit.snapshot(warning)
    withdrawn = {"withdrawn_at": clock.now(), "withdrawn_reason": reason}
    if not atomic.update_where(session, warning, {"withdrawn_at": None}, withdrawn):
        session.rollback()
        raise Conflict(
            "warnings.warning_was_withdrawn_someone",
            _N("warning {warning_id} was withdrawn by someone else at the same moment"),
            warning_id=warning_id,
        )
    audit.record(session, actor, warning, "withdraw", before)
    outbox.warning_withdrawn(session, warning)
    return warning


IN_FORCE = (
    select(PublicWarning)
    .where(
        col(PublicWarning.withdrawn_at).is_(None),
        or_(col(PublicWarning.expires_at).is_(None), col(PublicWarning.expires_at) > bindparam("now")),
    )
    .order_by(col(PublicWarning.published_at).desc())
    .limit(200)
)


def in_force(session: Session) -> list[PublicWarning]:
    """Every warning in force now, newest first."""
    return list(session.exec(IN_FORCE, params={"now": clock.now()}).all())


def relevant(in_force_now: list[PublicWarning], *, gtin14: str | None, item_codes: set[str]) -> list[PublicWarning]:
    """The warnings about a product (by GTIN-14) or about any of the test items."""
    return [w for w in in_force_now if (gtin14 and w.gtin == gtin14) or (w.item_code and w.item_code in item_codes)]


def active(session: Session, *, gtin14: str | None = None, item_codes: set[str] | None = None) -> list[PublicWarning]:
    """Warnings in force now, newest first; optionally only those about a product or items."""
    now_in_force = in_force(session)
    if gtin14 is None and item_codes is None:
        return now_in_force
    return relevant(now_in_force, gtin14=gtin14, item_codes=item_codes or set())
