"""Kit lots as stock: receipt, acceptance, opening, write-offs, every test taking its units, levels and alerts,
and the monthly reconciliation.

A district holds a lot once it receives it (`receive`); from then on the lot is stock-tracked there: it must
pass its check on receipt (`accept`) before its first use, and every result recorded on it takes the units
its item uses up (`TestItem.units_per_test`), in the transaction that stores the result (`consume`, then
`record_use` with the result's id). An expired, unaccepted, rejected, exhausted lot, or one past its shelf
life after opening, is refused with the reason. A lot the district never received is not stock-tracked (lots
loaded before stock was kept: nobody counted their cards): its results are judged as before and take nothing.

The units left are the sum of the holding's movements; the holding keeps the sum (`KitStock.remaining`) so
that taking units is one conditional update: of two results taking the last card at once exactly one gets it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from lims import i18n
from lims.i18n import _N
from lims.models import District, KitLot, KitStock, StockAlert, StockMovement, TestItem, TestResult
from lims.models.common import Role
from lims.models.stock import (
    WRITE_OFF_REASONS,
    Acceptance,
    AlertCondition,
    KitLotPublic,
    MovementKind,
    StockLevel,
)
from lims.services.access import districts
from lims.services.access.auth import require_role
from lims.services.cases import notifications
from lims.services.core import atomic, audit, clock, dates
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, Invalid, NotFound

# Low stock: fewer units than this many days of use at the current rate (or than the holding's minimum).
LOW_DAYS = 7
# Near expiry: this many days or fewer to the lot's expiry (or the end of its shelf life after opening).
NEAR_EXPIRY_DAYS = 30
# The rate of use is taken over the last this many local days.
RATE_DAYS = 14
MAX_UNITS = 100_000


NOT_ACCEPTED = _N("kit lot {lot} has not passed its check on receipt: record its acceptance before its first use")
REJECTED = _N("kit lot {lot} was rejected on receipt and may not be used")
EXPIRED = _N("kit lot {lot} expired on {expires_on}; tested on {tested_on}")
PAST_SHELF_LIFE = _N("kit lot {lot} was opened on {opened_on} and keeps {days} days once opened; tested on {tested_on}")
EXHAUSTED = _N("kit lot {lot} is used up ({remaining} left, a test uses {units}): receive more or use another lot")
# Why a result may not be recorded on a lot, by code (the levels carry the code, readers see the text).
REFUSALS = {
    "stock.not_accepted": NOT_ACCEPTED,
    "stock.rejected": REJECTED,
    "stock.expired": EXPIRED,
    "stock.past_shelf_life": PAST_SHELF_LIFE,
    "stock.exhausted": EXHAUSTED,
}


def refusal_text(code: str, params: dict[str, Any], lang: str) -> str:
    """A refusal of the levels (`StockLevel.refusal_code` and `refusal_params`) in `lang`; "" for another code."""
    message = REFUSALS.get(code)
    return i18n.render(message, lang, params) if message else ""


class LotRefused(Invalid):
    """A result may not be recorded on this lot: not accepted, rejected, expired or past its shelf life."""


class LotExhausted(Conflict):
    """The lot has fewer units left than the test uses up."""


def _admin(actor: Actor) -> None:
    require_role(actor, Role.ADMIN)


def _lab(actor: Actor) -> None:
    require_role(actor, Role.ADMIN, Role.TESTER)


def _district_id(session: Session, actor: Actor) -> int:
    if actor.district_id is not None:
        return int(actor.district_id)
    return int(districts.named_or_first(session, None).id or 0)


def kit_lot(session: Session, kit_lot_id: int) -> KitLot:
    """The kit lot with this id, or NotFound."""
    lot = session.get(KitLot, kit_lot_id)
    if lot is None:
        raise NotFound("stock.no_kit_lot", _N("no kit lot {kit_lot_id}"), kit_lot_id=kit_lot_id)
    return lot


def holding_of(session: Session, district_id: int, kit_lot_id: int) -> KitStock | None:
    """The district's holding of the lot, if it received it (then the lot is stock-tracked there)."""
    return session.exec(
        select(KitStock).where(KitStock.district_id == district_id, KitStock.kit_lot_id == kit_lot_id)
    ).first()


def holding(session: Session, actor: Actor, kit_lot_id: int) -> KitStock:
    """The actor's district's holding of the lot, or NotFound (another district's holding is not seen; a lot that
    does not exist is answered alike)."""
    found = holding_of(session, _district_id(session, actor), kit_lot_id)
    if found is None:
        raise NotFound(
            "stock.not_received",
            _N("kit lot {kit_lot_id} has not been received in your district"),
            kit_lot_id=kit_lot_id,
        )
    return found


def _move(
    session: Session,
    actor: Actor,
    stock: KitStock,
    kind: MovementKind,
    quantity: int,
    *,
    at: datetime | None = None,
    result_id: int | None = None,
    reason: str = "",
) -> StockMovement:
    movement = StockMovement(
        district_id=stock.district_id,
        kit_stock_id=int(stock.id or 0),
        kind=kind.value,
        quantity=quantity,
        balance_after=stock.remaining,
        result_id=result_id,
        reason=reason,
        by_id=actor.user_id,
        at=at or clock.now(),
    )
    session.add(movement)
    session.flush()
    audit.record(session, actor, movement, kind.value, None)
    return movement


def _today(session: Session, district_id: int) -> date:
    return clock.today_of(session, district_id)


def receive(
    session: Session,
    actor: Actor,
    kit_lot_id: int,
    quantity: int,
    *,
    received_on: date | None = None,
    min_units: int | None = None,
    note: str = "",
) -> KitStock:
    """Book a delivery of `quantity` units of the lot into the district's stock; the first delivery makes the
    holding, which waits for its check on receipt (`accept`) before the lot may be used."""
    _admin(actor)
    lot = kit_lot(session, kit_lot_id)
    district_id = _district_id(session, actor)
    today = _today(session, district_id)
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_UNITS:
        raise Invalid(
            "stock.quantity", _N("quantity must be a whole number from 1 to {most}"), most=MAX_UNITS, value=quantity
        )
    if min_units is not None and not 0 <= min_units <= MAX_UNITS:
        raise Invalid("stock.min_units", _N("min_units must be a whole number from 0 to {most}"), most=MAX_UNITS)
    day = received_on or today
    if day > today or day < today - timedelta(days=366):
        raise Invalid(
            "stock.received_on",
            _N("received_on {day} must be today or within the last year ({today})"),
            day=day.isoformat(),
            today=today.isoformat(),
        )
    if lot.expires_on < day:
        raise Invalid(
            "stock.receive_expired",
            _N("kit lot {lot} expired on {expires_on}; an expired lot is not taken into stock"),
            lot=lot.lot,
            expires_on=lot.expires_on.isoformat(),
        )
    # One atomic insert: two deliveries booked at once make one holding.
    statement = atomic.upsert(session, KitStock).values(
        district_id=district_id,
        kit_lot_id=kit_lot_id,
        remaining=0,
        acceptance=Acceptance.PENDING.value,
        acceptance_note="",
        received_on=day,
        created_at=clock.now(),
    )
    inserted = session.execute(
        statement.on_conflict_do_nothing(index_elements=[col(KitStock.district_id), col(KitStock.kit_lot_id)])
    ).rowcount  # type: ignore[attr-defined]
    stock = holding_of(session, district_id, kit_lot_id)
    assert stock is not None
    session.refresh(stock)
    if inserted:
        audit.record(session, actor, stock, "receive_first", None)
    if stock.acceptance == Acceptance.REJECTED:
        raise Conflict(
            "stock.receive_rejected",
            _N("kit lot {lot} was rejected on receipt; it is not taken into stock again"),
            lot=lot.lot,
        )
    before = audit.snapshot(stock)
    values: dict[str, Any] = {"remaining": col(KitStock.remaining) + quantity}
    if min_units is not None:
        values["min_units"] = min_units
    if stock.received_on is None or day < stock.received_on:
        values["received_on"] = day
    if not atomic.update_where(session, stock, {}, values):  # pragma: no cover - the row was just read
        raise Conflict("stock.changed", _N("the stock of kit lot {lot} changed; try again"), lot=lot.lot)
    audit.record(session, actor, stock, "receive", before)
    at = clock.now() if day == today else clock.day_bounds(day, clock.zone_of(session, district_id))[0]
    _move(session, actor, stock, MovementKind.RECEIVED, quantity, at=at, reason=note[:500])
    raise_alerts(session, stock, lot)
    return stock


def accept(session: Session, actor: Actor, kit_lot_id: int, accepted: bool, note: str = "") -> KitStock:
    """Record the check of the lot on receipt (accepted or rejected, by whom, when, a note); once."""
    _admin(actor)
    stock = holding(session, actor, kit_lot_id)
    lot = kit_lot(session, kit_lot_id)
    note = note.strip()[:500]
    if not accepted and len(note) < 3:
        raise Invalid("stock.reject_needs_note", _N("say in a note why the lot is rejected"))
    before = audit.snapshot(stock)
    decision = Acceptance.ACCEPTED if accepted else Acceptance.REJECTED
    values = {
        "acceptance": decision.value,
        "accepted_by_id": actor.user_id,
        "accepted_at": clock.now(),
        "acceptance_note": note,
    }
    if not atomic.update_where(session, stock, {"acceptance": Acceptance.PENDING.value}, values):
        session.refresh(stock)
        raise Conflict(
            "stock.already_checked",
            _N("kit lot {lot} has already been checked on receipt"),
            lot=lot.lot,
        )
    audit.record(session, actor, stock, "accept" if accepted else "reject", before)
    return stock


def open_lot(session: Session, actor: Actor, kit_lot_id: int, opened_on: date | None = None) -> KitStock:
    """Record the day the lot was opened (its shelf life after opening runs from then); once."""
    _lab(actor)
    stock = holding(session, actor, kit_lot_id)
    lot = kit_lot(session, kit_lot_id)
    today = _today(session, stock.district_id)
    day = opened_on or today
    if day > today or (stock.received_on is not None and day < stock.received_on):
        raise Invalid(
            "stock.opened_on",
            _N("opened_on {day} must be between the day the lot was received ({received_on}) and today"),
            day=day.isoformat(),
            received_on=stock.received_on.isoformat() if stock.received_on else "-",
        )
    if stock.acceptance != Acceptance.ACCEPTED:
        raise _refusal(lot, stock, day)
    before = audit.snapshot(stock)
    if not atomic.update_where(session, stock, {"opened_on": None}, {"opened_on": day}):
        session.refresh(stock)
        raise Conflict(
            "stock.already_opened",
            _N("kit lot {lot} was already opened on {opened_on}"),
            lot=lot.lot,
            opened_on=stock.opened_on.isoformat() if stock.opened_on else "-",
        )
    audit.record(session, actor, stock, "open", before)
    return stock


def write_off(session: Session, actor: Actor, kit_lot_id: int, reason: str, quantity: int, note: str = "") -> KitStock:
    """Take `quantity` units out of stock for `reason` (broken, qc, spoiled, other; other needs a note)."""
    _lab(actor)
    stock = holding(session, actor, kit_lot_id)
    lot = kit_lot(session, kit_lot_id)
    kinds = {k.value: k for k in WRITE_OFF_REASONS}
    if reason not in kinds:
        raise Invalid(
            "stock.write_off_reason",
            _N("unknown reason {reason!r}; use broken, qc, spoiled or other"),
            reason=str(reason)[:20],
        )
    if not isinstance(quantity, int) or isinstance(quantity, bool) or not 1 <= quantity <= MAX_UNITS:
        raise Invalid("stock.quantity", _N("quantity must be a whole number from 1 to {most}"), most=MAX_UNITS)
    note = note.strip()[:500]
    if reason == MovementKind.OTHER and len(note) < 3:
        raise Invalid("stock.other_needs_note", _N("say in a note why the units are written off"))
    before = audit.snapshot(stock)
    taken = atomic.update_where(
        session, stock, {}, {"remaining": col(KitStock.remaining) - quantity}, col(KitStock.remaining) >= quantity
    )
    if not taken:
        session.refresh(stock)
        raise LotExhausted(
            "stock.not_enough",
            _N("kit lot {lot} has {remaining} units left, fewer than {quantity}"),
            lot=lot.lot,
            remaining=stock.remaining,
            quantity=quantity,
        )
    audit.record(session, actor, stock, "write_off", before)
    _move(session, actor, stock, kinds[reason], -quantity, reason=note)
    raise_alerts(session, stock, lot)
    return stock


# Taking units for a result ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Taken:
    """Units taken from a holding for a result not yet stored (`record_use` books them with its id)."""

    stock: KitStock
    lot: KitLot
    units: int


def usable_until(lot: KitLot, stock: KitStock) -> date:
    """The last day results may be recorded on the lot: its expiry, or the end of its shelf life once opened."""
    if stock.opened_on is not None and lot.shelf_life_after_opening_days:
        return min(lot.expires_on, stock.opened_on + timedelta(days=lot.shelf_life_after_opening_days - 1))
    return lot.expires_on


def _refusal(lot: KitLot, stock: KitStock, day: date) -> LotRefused:
    if stock.acceptance == Acceptance.PENDING:
        return LotRefused(
            "stock.not_accepted",
            NOT_ACCEPTED,
            lot=lot.lot,
        )
    if stock.acceptance == Acceptance.REJECTED:
        return LotRefused("stock.rejected", REJECTED, lot=lot.lot)
    if lot.expires_on < day:
        return LotRefused(
            "stock.expired",
            EXPIRED,
            lot=lot.lot,
            expires_on=lot.expires_on.isoformat(),
            tested_on=day.isoformat(),
        )
    return LotRefused(
        "stock.past_shelf_life",
        PAST_SHELF_LIFE,
        lot=lot.lot,
        opened_on=stock.opened_on.isoformat() if stock.opened_on else "-",
        days=lot.shelf_life_after_opening_days,
        tested_on=day.isoformat(),
    )


def refusal(lot: KitLot, stock: KitStock, day: date, units: int = 1, unit: str = "") -> Invalid | Conflict | None:
    """Why a result on day `day` taking `units` units of the holding would be refused (None: it would not)."""
    if stock.acceptance != Acceptance.ACCEPTED or usable_until(lot, stock) < day:
        return _refusal(lot, stock, day)
    if stock.remaining < units:
        return LotExhausted(
            "stock.exhausted",
            EXHAUSTED,
            lot=lot.lot,
            remaining=stock.remaining,
            units=units,
        )
    return None


def consume(session: Session, actor: Actor, lot: KitLot, item: TestItem, district_id: int, day: date) -> Taken | None:
    """Take the units one test of `item` uses up from the district's holding of `lot`, for a result tested on the
    local day `day` (None when the district does not track the lot); refused with the reason otherwise.

    Call it after everything else about the result has been checked and just before the result is stored, in
    the same transaction, then `record_use` with the stored result's id."""
    stock = holding_of(session, district_id, int(lot.id or 0))
    if stock is None:
        return None
    units = max(1, item.units_per_test)
    problem = refusal(lot, stock, day, units, item.stock_unit)
    if problem is not None:
        raise problem
    before = audit.snapshot(stock)
    values: dict[str, Any] = {"remaining": col(KitStock.remaining) - units}
    if stock.opened_on is None:  # the first use opens the lot
        values["opened_on"] = sa.func.coalesce(col(KitStock.opened_on), sa.literal(day, sa.Date()))
    guard = {"acceptance": Acceptance.ACCEPTED.value}
    if not atomic.update_where(session, stock, guard, values, col(KitStock.remaining) >= units):
        session.refresh(stock)  # another result took the last units (or the lot changed) at the same moment
        raise refusal(lot, stock, day, units, item.stock_unit) or LotExhausted(
            "stock.taken_same_moment",
            _N("the last units of kit lot {lot} were taken by another result at the same moment"),
            lot=lot.lot,
        )
    audit.record(session, actor, stock, "consume", before)
    return Taken(stock, lot, units)


def require_lot(session: Session, item: TestItem, district_id: int) -> None:
    """Refuse a result of `item` without a kit lot when the district keeps stock of the item's lots: its card
    came out of one of them, and a card nobody books is a card the reconciliation cannot account for."""
    tracked = session.exec(
        select(KitStock.id)
        .join(KitLot, col(KitLot.id) == col(KitStock.kit_lot_id))
        .where(KitStock.district_id == district_id, KitLot.item_id == item.id)
    ).first()
    if tracked is not None:
        raise LotRefused(
            "stock.lot_needed",
            _N("item {item_code} is tested with kit lots kept in stock: name the kit lot the card came from"),
            item_code=item.code,
        )


def record_use(session: Session, actor: Actor, taken: Taken, result: TestResult) -> StockMovement:
    """Book the units `consume` took as used by the stored `result` (one ledger row per result)."""
    movement = _move(
        session,
        actor,
        taken.stock,
        MovementKind.CONSUMED,
        -taken.units,
        at=result.tested_at,
        result_id=int(result.id or 0),
    )
    raise_alerts(session, taken.stock, taken.lot)
    return movement


def units_by_tests(session: Session, district_id: int) -> dict[str, int]:
    """Units each kit lot the district holds has given to tests so far, by lot number."""
    rows = session.exec(
        select(KitLot.lot, func.sum(StockMovement.quantity))
        .join(KitStock, col(KitStock.id) == col(StockMovement.kit_stock_id))
        .join(KitLot, col(KitLot.id) == col(KitStock.kit_lot_id))
        .where(StockMovement.district_id == district_id, StockMovement.kind == MovementKind.CONSUMED)
        .group_by(col(KitLot.lot))
    ).all()
    return {str(lot): -int(total or 0) for lot, total in rows}


def use_for_qc(
    session: Session, actor: Actor, lot: KitLot, item: TestItem, district_id: int, run_id: int, at: datetime
) -> StockMovement | None:
    """Take the units one control run of `item` uses from the district's holding of `lot` (a control card, a
    spiked or blank reagent set), booked as QC with the run's id; None when the district does not track the lot.

    A control may be run on a lot not yet accepted (the check on receipt is such a run); only a lot with no
    units left is refused."""
    stock = holding_of(session, district_id, int(lot.id or 0))
    if stock is None:
        return None
    units = max(1, item.units_per_test)
    before = audit.snapshot(stock)
    taken = atomic.update_where(
        session, stock, {}, {"remaining": col(KitStock.remaining) - units}, col(KitStock.remaining) >= units
    )
    if not taken:
        session.refresh(stock)
        raise LotExhausted(
            "stock.exhausted",
            EXHAUSTED,
            lot=lot.lot,
            remaining=stock.remaining,
            units=units,
        )
    audit.record(session, actor, stock, "qc_use", before)
    movement = _move(session, actor, stock, MovementKind.QC, -units, at=at, reason=f"control run {run_id}")
    raise_alerts(session, stock, lot)
    return movement


# Levels and alerts ---------------------------------------------------------------------------------------------


def _received(session: Session, stock_ids: list[int]) -> dict[int, int]:
    rows = session.exec(
        select(StockMovement.kit_stock_id, func.sum(StockMovement.quantity))
        .where(col(StockMovement.kit_stock_id).in_(stock_ids), StockMovement.kind == MovementKind.RECEIVED)
        .group_by(col(StockMovement.kit_stock_id))
    ).all()
    return {int(k): int(v or 0) for k, v in rows}


def _used_recently(session: Session, stock_ids: list[int], district_id: int) -> dict[int, int]:
    """Units each holding gave to tests over the last RATE_DAYS local days."""
    start, end = clock.last_days(RATE_DAYS, clock.zone_of(session, district_id))
    rows = session.exec(
        select(StockMovement.kit_stock_id, func.sum(StockMovement.quantity))
        .where(
            col(StockMovement.kit_stock_id).in_(stock_ids),
            StockMovement.kind == MovementKind.CONSUMED,
            col(StockMovement.at) >= start,
            col(StockMovement.at) < end,
        )
        .group_by(col(StockMovement.kit_stock_id))
    ).all()
    return {int(k): -int(v or 0) for k, v in rows}


def _level(lot: KitLot, item: TestItem, stock: KitStock, received: int, used: int, today: date) -> StockLevel:
    per_day = used / RATE_DAYS
    tests_per_day = per_day / max(1, item.units_per_test)
    until = usable_until(lot, stock)
    runs_out = today + timedelta(days=int(stock.remaining / per_day)) if per_day > 0 else None
    low = (stock.min_units is not None and stock.remaining < stock.min_units) or (
        per_day > 0 and stock.remaining < per_day * LOW_DAYS
    )
    problem = refusal(lot, stock, today, max(1, item.units_per_test), item.stock_unit)
    return StockLevel(
        kit_stock_id=int(stock.id or 0),
        kit_lot_id=int(lot.id or 0),
        item_code=item.code,
        lot=lot.lot,
        manufacturer=lot.manufacturer,
        storage_condition=lot.storage_condition,
        stock_unit=item.stock_unit,
        units_per_test=item.units_per_test,
        acceptance=stock.acceptance,
        received=received,
        remaining=stock.remaining,
        expires_on=lot.expires_on,
        days_to_expiry=(lot.expires_on - today).days,
        opened_on=stock.opened_on,
        usable_until=until,
        tests_per_day=round(tests_per_day, 2),
        runs_out_on=runs_out,
        low=low,
        near_expiry=(until - today).days <= NEAR_EXPIRY_DAYS,
        usable=problem is None,
        refusal=problem.reason if problem is not None else "",
        refusal_code=problem.code if problem is not None else "",
        refusal_params=problem.json_params() if problem is not None else {},
    )


def level_of(session: Session, stock: KitStock) -> StockLevel:
    """One holding's level (what the API answers after a change)."""
    return _levels(session, stock.district_id, stock)[0]


def kit_lots(session: Session, actor: Actor, *, include_expired: bool = False) -> list[KitLotPublic]:
    """Every kit lot (reference data shared by every district; by default those not expired in the reader's
    district), with whether the reader's district holds it."""
    require_role(actor, Role.ADMIN, Role.TESTER, Role.REVIEWER)
    district_id = _district_id(session, actor)
    today = _today(session, district_id)
    held = set(session.exec(select(KitStock.kit_lot_id).where(KitStock.district_id == district_id)).all())
    statement = select(KitLot, TestItem).join(TestItem, col(TestItem.id) == col(KitLot.item_id))
    if not include_expired:
        statement = statement.where(col(KitLot.expires_on) >= today)
    return [
        KitLotPublic(
            id=int(lot.id or 0),
            item_code=item.code,
            lot=lot.lot,
            manufacturer=lot.manufacturer,
            expires_on=lot.expires_on,
            storage_condition=lot.storage_condition,
            shelf_life_after_opening_days=lot.shelf_life_after_opening_days,
            held=lot.id in held,
        )
        for lot, item in session.exec(statement.order_by(col(TestItem.code), col(KitLot.lot))).all()
    ]


def _levels(session: Session, district_id: int, only: KitStock | None = None) -> list[StockLevel]:
    statement = (
        select(KitStock, KitLot, TestItem)
        .join(KitLot, col(KitLot.id) == col(KitStock.kit_lot_id))
        .join(TestItem, col(TestItem.id) == col(KitLot.item_id))
        .where(KitStock.district_id == district_id)
    )
    if only is not None:
        statement = statement.where(KitStock.id == only.id)
    rows = session.exec(statement.order_by(col(TestItem.code), col(KitLot.expires_on), col(KitLot.lot))).all()
    ids = [int(stock.id or 0) for stock, _lot, _item in rows]
    if not ids:
        return []
    received, used = _received(session, ids), _used_recently(session, ids, district_id)
    today = _today(session, district_id)
    return [
        _level(lot, item, stock, received.get(int(stock.id or 0), 0), used.get(int(stock.id or 0), 0), today)
        for stock, lot, item in rows
    ]


def stock_levels(session: Session, actor: Actor, *, district_code: str | None = None) -> list[StockLevel]:
    """Every holding of the actor's district (the console: of the named or first district): units received
    and left, days to expiry, tests a day over the last 14 days, the day it runs out at that rate, and whether
    it is low, near expiry or refused for use."""
    require_role(actor, Role.ADMIN, Role.TESTER, Role.REVIEWER)
    if district_code is not None or actor.district_id is None:
        actor = districts.acting_for(session, actor, district_code)
    return _levels(session, int(actor.district_id or 0))


def raise_alerts(session: Session, stock: KitStock, lot: KitLot) -> list[StockAlert]:
    """Raise, once each, the low-stock and near-expiry conditions the holding is in (a condition already raised
    for it is not raised again); returns the ones raised now."""
    raised = set(session.exec(select(StockAlert.condition).where(StockAlert.kit_stock_id == stock.id)).all())
    if {AlertCondition.LOW.value, AlertCondition.NEAR_EXPIRY.value} <= raised:
        return []
    if stock.acceptance == Acceptance.REJECTED:
        return []
    # The cheap checks first: this runs after every result taken from the lot.
    today = _today(session, stock.district_id)
    near = (usable_until(lot, stock) - today).days <= NEAR_EXPIRY_DAYS
    low = stock.min_units is not None and stock.remaining < stock.min_units
    if not low and AlertCondition.LOW.value not in raised:
        per_day = (
            _used_recently(session, [int(stock.id or 0)], stock.district_id).get(int(stock.id or 0), 0) / RATE_DAYS
        )
        low = per_day > 0 and stock.remaining < per_day * LOW_DAYS
    if not (low and AlertCondition.LOW.value not in raised) and not (
        near and AlertCondition.NEAR_EXPIRY.value not in raised
    ):
        return []
    levels = _levels(session, stock.district_id, stock)
    if not levels:
        return []
    level = levels[0]
    due = []
    if level.low and AlertCondition.LOW.value not in raised:
        due.append((AlertCondition.LOW, {"remaining": level.remaining, "runs_out_on": _iso(level.runs_out_on)}))
    if level.near_expiry and AlertCondition.NEAR_EXPIRY.value not in raised:
        due.append((AlertCondition.NEAR_EXPIRY, {"usable_until": level.usable_until.isoformat()}))
    made = []
    for condition, params in due:
        statement = atomic.upsert(session, StockAlert).values(
            district_id=stock.district_id,
            kit_stock_id=stock.id,
            condition=condition.value,
            params={"lot": lot.lot, "item_code": level.item_code, **params},
            raised_at=clock.now(),
        )
        inserted = session.execute(
            statement.on_conflict_do_nothing(index_elements=[col(StockAlert.kit_stock_id), col(StockAlert.condition)])
        ).rowcount  # type: ignore[attr-defined]
        if inserted:
            alert = session.exec(
                select(StockAlert).where(StockAlert.kit_stock_id == stock.id, StockAlert.condition == condition.value)
            ).one()
            audit.record(session, audit.SYSTEM, alert, "raise", None)
            made.append(alert)
    return made


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def check_alerts(session: Session, actor: Actor, *, district_code: str | None = None) -> list[StockAlert]:
    """Raise the conditions every holding of the district is in now (near expiry comes with the calendar, not
    with a movement: run daily); returns those raised now."""
    _admin(actor)
    if district_code is not None or actor.district_id is None:
        actor = districts.acting_for(session, actor, district_code)
    made: list[StockAlert] = []
    for stock, lot in session.exec(
        select(KitStock, KitLot)
        .join(KitLot, col(KitLot.id) == col(KitStock.kit_lot_id))
        .where(KitStock.district_id == actor.district_id)
    ).all():
        made += raise_alerts(session, stock, lot)
    return made


@dataclass(frozen=True)
class Notice:
    """A stock condition for the district's administrators."""

    alert_id: int
    condition: str
    lot: str
    item_code: str
    params: dict[str, Any]
    raised_at: datetime


def alerts(session: Session, actor: Actor, *, unread_only: bool = True, limit: int = 50) -> list[Notice]:
    """The stock conditions of the administrator's district, newest first; by default those raised after the
    administrator's read mark (the notification mark every user has)."""
    _admin(actor)
    statement = select(StockAlert).where(StockAlert.district_id == _district_id(session, actor))
    mark = notifications.seen_until(session, actor) if unread_only and actor.user_id else None
    if mark is not None:
        statement = statement.where(col(StockAlert.raised_at) > mark)
    rows = session.exec(statement.order_by(col(StockAlert.raised_at).desc()).limit(max(1, min(limit, 200)))).all()
    return [
        Notice(
            alert_id=int(a.id or 0),
            condition=a.condition,
            lot=str(a.params.get("lot", "")),
            item_code=str(a.params.get("item_code", "")),
            params=a.params,
            raised_at=a.raised_at,
        )
        for a in rows
    ]


def mark_alerts_read(session: Session, actor: Actor) -> datetime:
    """Mark the administrator's stock conditions read up to now (the user's one notification mark)."""
    _admin(actor)
    return notifications.mark_read(session, actor)


# Monthly reconciliation -----------------------------------------------------------------------------------------


@dataclass
class LotReconciliation:
    """One holding's month: where every unit came from and went."""

    kit_lot_id: int
    item_code: str
    lot: str
    stock_unit: str
    units_per_test: int
    opening: int
    received: int
    tests_recorded: int
    units_by_tests: int
    qc: int
    broken: int
    spoiled: int
    other: int
    closing: int
    # received + opening − closing − units by tests: the units that did not go to tests, named by reason
    difference: dict[str, int] = field(default_factory=dict)
    # tests recorded on the lot that took no units (recorded before the district tracked the lot), in units
    tests_without_units: int = 0
    balanced: bool = True

    def as_dict(self) -> dict[str, Any]:
        """The row as plain data."""
        return asdict(self)


@dataclass
class Reconciliation:
    """A district's stock for one month: per lot, and whether every holding balances."""

    district: str
    month: str
    lots: list[LotReconciliation]
    stored_balances_match: bool  # each holding's kept balance equals the sum of its movements

    @property
    def balanced(self) -> bool:
        """Every lot balances and every kept balance is the sum of its movements."""
        return self.stored_balances_match and all(row.balanced for row in self.lots)

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data (`lims stock reconcile --json`)."""
        return {
            "district": self.district,
            "month": self.month,
            "balanced": self.balanced,
            "stored_balances_match": self.stored_balances_match,
            "lots": [row.as_dict() for row in self.lots],
        }


def parse_month(text: str) -> tuple[int, int]:
    """`YYYY-MM` as (year, month), or Invalid."""
    return dates.month(text)


def reconcile(session: Session, actor: Actor, month: str, *, district_code: str | None = None) -> Reconciliation:
    """The month's reconciliation of every holding of the district: opening balance, received, tests recorded,
    units consumed by tests, QC units, written off by reason, closing balance, and the difference named."""
    require_role(actor, Role.ADMIN, Role.REVIEWER)
    year, number = parse_month(month)
    if district_code is not None or actor.district_id is None:
        actor = districts.acting_for(session, actor, district_code)
    district = session.get(District, actor.district_id)
    assert district is not None
    zone = clock.zone(district)
    start, end = clock.month_bounds(year, number, zone)
    rows = session.exec(
        select(KitStock, KitLot, TestItem)
        .join(KitLot, col(KitLot.id) == col(KitStock.kit_lot_id))
        .join(TestItem, col(TestItem.id) == col(KitLot.item_id))
        .where(KitStock.district_id == district.id)
        .order_by(col(TestItem.code), col(KitLot.lot))
    ).all()
    ids = [int(stock.id or 0) for stock, _lot, _item in rows]
    before: dict[int, int] = {}
    within: dict[tuple[int, str], int] = {}
    total: dict[int, int] = {}
    if ids:
        for stock_id, amount in session.exec(
            select(StockMovement.kit_stock_id, func.sum(StockMovement.quantity))
            .where(col(StockMovement.kit_stock_id).in_(ids), col(StockMovement.at) < start)
            .group_by(col(StockMovement.kit_stock_id))
        ).all():
            before[int(stock_id)] = int(amount or 0)
        for stock_id, kind, amount in session.exec(
            select(StockMovement.kit_stock_id, StockMovement.kind, func.sum(StockMovement.quantity))
            .where(
                col(StockMovement.kit_stock_id).in_(ids), col(StockMovement.at) >= start, col(StockMovement.at) < end
            )
            .group_by(col(StockMovement.kit_stock_id), col(StockMovement.kind))
        ).all():
            within[(int(stock_id), str(kind))] = int(amount or 0)
        for stock_id, amount in session.exec(
            select(StockMovement.kit_stock_id, func.sum(StockMovement.quantity))
            .where(col(StockMovement.kit_stock_id).in_(ids))
            .group_by(col(StockMovement.kit_stock_id))
        ).all():
            total[int(stock_id)] = int(amount or 0)
    tests = dict(
        session.exec(
            select(TestResult.kit_lot_id, func.count())
            .where(
                TestResult.district_id == district.id,
                col(TestResult.kit_lot_id).in_([int(lot.id or 0) for _s, lot, _i in rows] or [0]),
                col(TestResult.tested_at) >= start,
                col(TestResult.tested_at) < end,
                # a correction replaces a run (no new card); a repeat run is a run of its own
                col(TestResult.supersedes_id).is_(None) | (TestResult.correction_reason == "retest after rejection"),
            )
            .group_by(col(TestResult.kit_lot_id))
        ).all()
    )
    out: list[LotReconciliation] = []
    for stock, lot, item in rows:
        sid = int(stock.id or 0)
        moved = {kind.value: within.get((sid, kind.value), 0) for kind in MovementKind}
        opening = before.get(sid, 0)
        row = LotReconciliation(
            kit_lot_id=int(lot.id or 0),
            item_code=item.code,
            lot=lot.lot,
            stock_unit=item.stock_unit,
            units_per_test=item.units_per_test,
            opening=opening,
            received=moved[MovementKind.RECEIVED],
            tests_recorded=int(tests.get(lot.id, 0)),
            units_by_tests=-moved[MovementKind.CONSUMED],
            qc=-moved[MovementKind.QC],
            broken=-moved[MovementKind.BROKEN],
            spoiled=-moved[MovementKind.SPOILED],
            other=-moved[MovementKind.OTHER],
            closing=opening + sum(moved.values()),
        )
        row.difference = {
            name: amount
            for name, amount in (("qc", row.qc), ("broken", row.broken), ("spoiled", row.spoiled), ("other", row.other))
            if amount
        }
        row.tests_without_units = max(0, row.tests_recorded * row.units_per_test - row.units_by_tests)
        named = row.units_by_tests + sum(row.difference.values())
        row.balanced = row.opening + row.received - named == row.closing and row.closing >= 0
        out.append(row)
    matches = all(total.get(int(stock.id or 0), 0) == stock.remaining for stock, _lot, _item in rows)
    return Reconciliation(district.code, f"{year:04d}-{number:02d}", out, matches)
