"""The holding queue: instrument readings whose sample was unknown, and assigning one to a sample."""

from __future__ import annotations

from sqlmodel import Session, col, select

from instrument_drivers.reading import Reading
from lims.i18n import _N
from lims.models import HeldReading, Instrument, TestResult
from lims.models.common import Role
from lims.services.access.auth import require_role
from lims.services.core import atomic, audit
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, Invalid, NotFound
from lims.services.results import ingest


def _district_serials(session: Session, actor: Actor) -> set[str]:
    return set(session.exec(select(Instrument.serial).where(Instrument.district_id == actor.district_id)).all())


def pending(session: Session, actor: Actor, limit: int = 100) -> list[HeldReading]:
    """Unassigned held readings of the actor's district's instruments (and of instruments not yet registered)."""
    require_role(actor, Role.TESTER, Role.REVIEWER, Role.ADMIN)
    known = set(session.exec(select(Instrument.serial)).all())
    mine = _district_serials(session, actor)
    rows = session.exec(
        select(HeldReading)
        .where(col(HeldReading.assigned_result_id).is_(None))
        .order_by(col(HeldReading.received_at).desc(), col(HeldReading.id).desc())
        .limit(limit * 4)
    ).all()
    return [h for h in rows if h.instrument_serial in mine or h.instrument_serial not in known][:limit]


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
    if not atomic.update_where(session, held, {"assigned_result_id": None}, {"assigned_result_id": None}):
        session.rollback()
        raise Conflict(
            "holding.held_reading_was_assigned",
            _N("held reading {held_id} was assigned by someone else at the same moment"),
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
