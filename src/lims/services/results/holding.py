"""The holding queue: instrument readings whose sample was unknown; assigning one to a sample, or discarding it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement
from sqlmodel import Session, col, select

from instrument_drivers.reading import Reading
from lims.i18n import _N
from lims.models import HeldReading, Instrument, Sample, TestResult
from lims.models.common import Role
from lims.services.access.auth import require_role
from lims.services.core import atomic, audit, clock
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, Invalid, NotFound
from lims.services.results import ingest

DISCARD_REASON_CHARS = (3, 500)
DISCARDED = "discarded"  # the key in the held row's stored reading that records a discard (who, when, why)


def _not_discarded() -> ColumnElement[bool]:
    """SQL condition: the held reading has not been discarded."""
    condition: ColumnElement[bool] = col(HeldReading.reading)[DISCARDED].as_string().is_(None)
    return condition


def discarded(held: HeldReading) -> dict[str, Any] | None:
    """Who discarded a held reading, when and why; None while it waits."""
    found = held.reading.get(DISCARDED)
    return found if isinstance(found, dict) else None


def _district_serials(session: Session, actor: Actor) -> set[str]:
    return set(session.exec(select(Instrument.serial).where(Instrument.district_id == actor.district_id)).all())


def pending(session: Session, actor: Actor, limit: int = 100) -> list[HeldReading]:
    """Unassigned held readings of the actor's district's instruments (and of instruments not yet registered)."""
    require_role(actor, Role.TESTER, Role.REVIEWER, Role.ADMIN)
    known = set(session.exec(select(Instrument.serial)).all())
    mine = _district_serials(session, actor)
    rows = session.exec(
        select(HeldReading)
        .where(col(HeldReading.assigned_result_id).is_(None), _not_discarded())
        .order_by(col(HeldReading.received_at).desc(), col(HeldReading.id).desc())
        .limit(limit * 4)
    ).all()
    return [h for h in rows if h.instrument_serial in mine or h.instrument_serial not in known][:limit]


@dataclass(frozen=True)
class HeldView:
    """A held reading as the tester sees it: the sample the instrument named (when it is one of the
    district's), and whether the instrument judged it a suspected positive."""

    held: HeldReading
    sample: Sample | None
    suspected_positive: bool


def pending_views(session: Session, actor: Actor, limit: int = 100) -> list[HeldView]:
    """The pending held readings with the district's sample each names, suspected positives first."""
    rows = pending(session, actor, limit)
    named = {h.sample_label_id.strip().upper() for h in rows if h.sample_label_id}
    samples = {
        s.label_id: s
        for s in session.exec(
            select(Sample).where(col(Sample.label_id).in_(named), Sample.district_id == actor.district_id)
        )
    }
    views = [
        HeldView(h, samples.get((h.sample_label_id or "").strip().upper()), h.reading.get("judgement") == "positive")
        for h in rows
    ]
    return sorted(views, key=lambda v: not v.suspected_positive)  # stable: newest first within each group


def assign(session: Session, actor: Actor, held_id: int, label_id: str) -> TestResult:
    """Judge a held reading as a result of sample `label_id`; the held row keeps a link to the result."""
    require_role(actor, Role.TESTER)
    held = session.get(HeldReading, held_id)
    instrument = (
        session.exec(select(Instrument).where(Instrument.serial == held.instrument_serial)).first() if held else None
    )
    if held is None or (instrument is not None and instrument.district_id != actor.district_id):
        raise NotFound(
            "holding.no_held_reading", _N("no held reading {held_id}"), held_id=held_id
        )  # another district's reading is answered as no reading
    if held.assigned_result_id is not None:
        raise Conflict(
            "holding.held_reading_was_already",
            _N("held reading {held_id} was already assigned to result {held_assigned_result_id}"),
            held_id=held_id,
            held_assigned_result_id=held.assigned_result_id,
        )
    if discarded(held) is not None:
        raise Conflict(
            "holding.held_reading_was_discarded",
            _N("held reading {held_id} was discarded: {discard_reason}"),
            held_id=held_id,
            discard_reason=str((discarded(held) or {}).get("reason", "")),
        )
    if instrument is None:
        raise Invalid(
            "holding.instrument_registered_administrator_adds",
            _N("instrument {held_instrument_serial} is not registered; an administrator adds it first"),
            held_instrument_serial=held.instrument_serial,
        )
    reading = Reading.from_dict({k: v for k, v in held.reading.items() if k != "reason"})
    before = audit.snapshot(held)
    # Claim the reading before judging it: of two testers assigning it at once, the second stops here
    # (the no-op update takes the row's lock, and matches nothing once the first has assigned it).
    if not atomic.update_where(
        session, held, {"assigned_result_id": None}, {"assigned_result_id": None}, _not_discarded()
    ):
        session.rollback()
        raise Conflict(
            "holding.held_reading_was_assigned",
            _N("held reading {held_id} was assigned or discarded by someone else at the same moment"),
            held_id=held_id,
        )
    result = ingest.submit_reading(
        session, actor, reading, label_id.strip().upper(), instrument.serial, extra={"held_reading_id": held.id}
    )
    held.assigned_result_id = result.id
    session.add(held)
    session.flush()
    audit.record(session, actor, held, "assign", before)
    return result


def discard(session: Session, actor: Actor, held_id: int, reason: str) -> HeldReading:
    """Set a held reading aside for good, with the tester's reason (a blank run, a test strip, a reading of
    no sample); the reading stays stored and the discard is audited. Of two testers acting on it at once
    (assigning or discarding), exactly one wins; the other is told it was taken meanwhile."""
    require_role(actor, Role.TESTER)
    reason = " ".join(reason.split())
    least, most = DISCARD_REASON_CHARS
    if not least <= len(reason) <= most:
        raise Invalid(
            "holding.discard_needs_reason",
            _N("discarding a held reading needs a reason of {least} to {most} characters"),
            least=least,
            most=most,
        )
    held = session.get(HeldReading, held_id)
    instrument = (
        session.exec(select(Instrument).where(Instrument.serial == held.instrument_serial)).first() if held else None
    )
    if held is None or (instrument is not None and instrument.district_id != actor.district_id):
        raise NotFound("holding.no_held_reading", _N("no held reading {held_id}"), held_id=held_id)
    if held.assigned_result_id is not None:
        raise Conflict(
            "holding.held_reading_was_already",
            _N("held reading {held_id} was already assigned to result {held_assigned_result_id}"),
            held_id=held_id,
            held_assigned_result_id=held.assigned_result_id,
        )
    if discarded(held) is not None:
        raise Conflict(
            "holding.held_reading_was_discarded",
            _N("held reading {held_id} was discarded: {discard_reason}"),
            held_id=held_id,
            discard_reason=str((discarded(held) or {}).get("reason", "")),
        )
    before = audit.snapshot(held)
    mark = {"reason": reason, "by_id": actor.user_id, "at": clock.now().isoformat()}
    if not atomic.update_where(
        session, held, {"assigned_result_id": None}, {"reading": {**held.reading, DISCARDED: mark}}, _not_discarded()
    ):
        session.rollback()
        raise Conflict(
            "holding.held_reading_was_assigned",
            _N("held reading {held_id} was assigned or discarded by someone else at the same moment"),
            held_id=held_id,
        )
    audit.record(session, actor, held, "discard", before)
    return held
