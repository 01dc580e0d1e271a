"""Consumption-safety warnings (消费警示): drafted and published by reviewers, numbered per district and year."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, or_
from sqlmodel import Session, col, select

from lims import i18n
from lims.i18n import _N
from lims.models import PublicWarning, WarningCounter, bounds
from lims.models.cases import WarningBase, WarningDraftEdit, WarningState
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


def _check(session: Session, data: WarningBase | WarningDraftEdit) -> None:
    """What a warning may be about: a known item and category, an end date in the future but not too far."""
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


def _next_number(session: Session, district_id: int, year: int) -> int:
    """The next number of the district's warnings in `year`, taken atomically inside the transaction.

    One upsert of the (district, year) counter row, as for label ids: on PostgreSQL it locks the row until
    commit, so two publications of one district queue and get consecutive numbers; a rolled-back publication
    gives its number back."""
    statement = (
        atomic.upsert(session, WarningCounter)
        .values(district_id=district_id, year=year, last=1)
        .on_conflict_do_update(
            index_elements=[col(WarningCounter.district_id), col(WarningCounter.year)],
            set_={"last": col(WarningCounter.last) + 1},
        )
        .returning(col(WarningCounter.last))
    )
    return int(session.execute(statement).scalar_one())


def _publication(session: Session, actor: Actor, district_id: int) -> dict[str, Any]:
    """The columns a warning gets when it is published now: state, time, reviewer and its number of the year."""
    now = clock.now()
    year = clock.local_date(now, clock.zone_of(session, district_id)).year
    return {
        "state": WarningState.PUBLISHED,
        "published_at": now,
        "published_by_id": int(actor.user_id or 0),
        "year": year,
        "sequence": _next_number(session, district_id, year),
    }


def _published(session: Session, actor: Actor, warning: PublicWarning, before: dict[str, Any] | None) -> None:
    """Every publication, direct or from a draft, ends here: what must follow one is done in this place."""
    audit.record(session, actor, warning, "publish", before)
    outbox.warning_published(session, warning)


def publish(session: Session, actor: Actor, data: WarningBase) -> PublicWarning:
    """Publish a warning now, with the next number of the district's year."""
    require_role(actor, Role.REVIEWER)
    _check(session, data)
    values = data.model_dump()
    if values["gtin"]:
        values["gtin"] = gtin.normalise(values["gtin"])
    district_id = int(actor.district_id or 0)
    warning = PublicWarning(**values, district_id=district_id, **_publication(session, actor, district_id))
    session.add(warning)
    session.flush()
    _published(session, actor, warning, None)
    return warning


def number_text(warning: PublicWarning, lang: str) -> str:
    """The warning's number as people read it (2026年第3期), empty for one published before numbering."""
    if warning.year is None or warning.sequence is None:
        return ""
    return i18n.render(_N("{year} issue {number}"), lang, {"year": warning.year, "number": warning.sequence})


def compose_body(product: str, finding: str, source: str, advice: str) -> str:
    """The public text of a drafted warning in Chinese: the product, the finding, its source, the advice, 12315."""
    lines = [
        (_N("Product: {product}"), {"product": product}),
        (_N("Finding: {finding}"), {"finding": finding}),
        (_N("Source: {source}"), {"source": source}),
        (_N("Advice to consumers: {advice}"), {"advice": advice}),
        (_N("If you find a problem with food, call the 12315 consumer hotline to complain or report it."), {}),
    ]
    return "\n".join(i18n.render(text, i18n.DEFAULT_LANGUAGE, params) for text, params in lines)


def draft(
    session: Session,
    actor: Actor,
    data: WarningDraftEdit,
    *,
    point_id: int | None = None,
    signal: dict[str, Any] | None = None,
) -> PublicWarning:
    """A draft warning of the reviewer's district: not public, edited and published by a reviewer."""
    require_role(actor, Role.REVIEWER)
    _check(session, data)
    values = _draft_values(data)
    warning = PublicWarning(
        **values,
        district_id=int(actor.district_id or 0),
        state=WarningState.DRAFT,
        revision=1,
        drafted_at=clock.now(),
        drafted_by_id=int(actor.user_id or 0),
        point_id=point_id,
        signal=signal,
        published_at=None,
    )
    session.add(warning)
    session.flush()
    audit.record(session, actor, warning, "draft", None)
    return warning


def _draft_values(data: WarningDraftEdit) -> dict[str, Any]:
    values = data.model_dump(exclude={"revision"})
    values = {k: v.strip() if isinstance(v, str) else v for k, v in values.items()}
    if values["gtin"]:
        values["gtin"] = gtin.normalise(values["gtin"])
    values["body_zh"] = compose_body(values["product"], values["finding"], values["source"], values["advice"])
    values["body_en"] = ""
    return values


def get_draft(session: Session, actor: Actor, warning_id: int) -> PublicWarning:
    """A warning of the reviewer's district by id, draft or not (another district's is answered as none)."""
    require_role(actor, Role.REVIEWER)
    warning = session.get(PublicWarning, warning_id)
    if warning is None or warning.district_id != actor.district_id:
        raise NotFound("warnings.no_warning", _N("no warning {warning_id}"), warning_id=warning_id)
    return warning


def drafts(session: Session, actor: Actor) -> list[PublicWarning]:
    """The reviewer's district's drafts, newest first."""
    require_role(actor, Role.REVIEWER)
    return list(
        session.exec(
            select(PublicWarning)
            .where(PublicWarning.district_id == actor.district_id, PublicWarning.state == WarningState.DRAFT)
            .order_by(col(PublicWarning.drafted_at).desc())
            .limit(200)
        ).all()
    )


def _changed_meanwhile(warning_id: int) -> Conflict:
    return Conflict(
        "warnings.draft_changed",
        _N("draft {warning_id} was changed, published or discarded by someone else meanwhile; reload it"),
        warning_id=warning_id,
    )


def _open_draft(session: Session, actor: Actor, warning_id: int, revision: int) -> PublicWarning:
    warning = get_draft(session, actor, warning_id)
    if warning.state != WarningState.DRAFT:
        raise Conflict(
            "warnings.not_a_draft",
            _N("warning {warning_id} is no longer a draft: it was {state}"),
            warning_id=warning_id,
            state=warning.state,
        )
    if warning.revision != revision:
        raise _changed_meanwhile(warning_id)
    return warning


def edit_draft(session: Session, actor: Actor, warning_id: int, data: WarningDraftEdit) -> PublicWarning:
    """Change a draft; refused when someone else changed it since the reviewer read `data.revision`."""
    warning = _open_draft(session, actor, warning_id, data.revision)
    _check(session, data)
    before = audit.snapshot(warning)
    values = {**_draft_values(data), "revision": data.revision + 1}
    if not atomic.update_where(session, warning, {"state": WarningState.DRAFT, "revision": data.revision}, values):
        session.rollback()
        raise _changed_meanwhile(warning_id)
    audit.record(session, actor, warning, "edit_draft", before)
    return warning


def publish_draft(session: Session, actor: Actor, warning_id: int, revision: int) -> PublicWarning:
    """Publish a draft as the reviewer read it: of two reviewers publishing it at once, one wins, the other gets 409."""
    warning = _open_draft(session, actor, warning_id, revision)
    _check(session, WarningBase.model_validate(warning, from_attributes=True))
    before = audit.snapshot(warning)
    guard = {"state": WarningState.DRAFT, "revision": revision}
    # The guarded update comes first, so the loser of a race takes no number from the counter.
    if not atomic.update_where(session, warning, guard, {"state": WarningState.PUBLISHED, "revision": revision + 1}):
        session.rollback()
        raise _changed_meanwhile(warning_id)
    publication = _publication(session, actor, warning.district_id)
    atomic.update_where(session, warning, {"state": WarningState.PUBLISHED}, publication)
    _published(session, actor, warning, before)
    return warning


def discard_draft(session: Session, actor: Actor, warning_id: int, revision: int) -> PublicWarning:
    """Set a draft aside: it is never published and stays on record."""
    warning = _open_draft(session, actor, warning_id, revision)
    before = audit.snapshot(warning)
    guard = {"state": WarningState.DRAFT, "revision": revision}
    if not atomic.update_where(session, warning, guard, {"state": WarningState.DISCARDED, "revision": revision + 1}):
        session.rollback()
        raise _changed_meanwhile(warning_id)
    audit.record(session, actor, warning, "discard_draft", before)
    return warning


def withdraw(session: Session, actor: Actor, warning_id: int, reason: str) -> PublicWarning:
    """Withdraw a warning of the reviewer's district now; it leaves every public list, its record stays."""
    require_role(actor, Role.REVIEWER)
    warning = session.get(PublicWarning, warning_id)
    if (
        warning is None
        or (actor.district_id is not None and warning.district_id != actor.district_id)
        or warning.state == WarningState.DISCARDED
    ):
        raise NotFound(
            "warnings.no_warning", _N("no warning {warning_id}"), warning_id=warning_id
        )  # another district's warning is answered as no warning
    if warning.state == WarningState.DRAFT:
        raise Conflict(
            "warnings.draft_not_withdrawn",
            _N("warning {warning_id} is a draft: discard it instead of withdrawing it"),
            warning_id=warning_id,
        )
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
        col(PublicWarning.state) == WarningState.PUBLISHED.value,
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
