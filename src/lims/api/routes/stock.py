"""Kit lots as stock: levels, alerts and the monthly reconciliation; receipt, acceptance, opening and write-offs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from lims.api.deps import CurrentUser, RowId, SessionDep
from lims.models.stock import (
    KitLotPublic,
    ReconciliationPublic,
    StockAccept,
    StockLevel,
    StockNotice,
    StockOpen,
    StockReceive,
    StockWriteOff,
)
from lims.services.lab import stock

router = APIRouter(tags=["stock"])


@router.get("/stock")
def levels(session: SessionDep, actor: CurrentUser) -> list[StockLevel]:
    """Every lot the district holds: units received and left, days to expiry, tests a day over the last 14 days,
    the day it runs out at that rate, and whether it is low, near expiry or refused for use."""
    return stock.stock_levels(session, actor)


@router.get("/stock/alerts")
def alerts(session: SessionDep, actor: CurrentUser, unread_only: bool = True) -> list[StockNotice]:
    """Low stock and near expiry, raised once per lot, for the district's administrators (by default those since
    they last marked them read)."""
    return [StockNotice(**n.__dict__) for n in stock.alerts(session, actor, unread_only=unread_only)]


@router.post("/stock/alerts/read")
def alerts_read(session: SessionDep, actor: CurrentUser) -> dict[str, str]:
    """Mark the administrator's stock conditions read up to now."""
    until = stock.mark_alerts_read(session, actor)
    session.commit()
    return {"seen_until": until.isoformat()}


@router.get("/stock/reconciliation")
def reconciliation(
    session: SessionDep, actor: CurrentUser, month: Annotated[str, Query(pattern=r"^\d{4}-\d{2}$")]
) -> ReconciliationPublic:
    """The month's reconciliation per lot: opening balance, received, tests recorded, units consumed by tests,
    QC units, written off by reason, closing balance, and the difference named."""
    return ReconciliationPublic.model_validate(stock.reconcile(session, actor, month).as_dict())


@router.get("/kit-lots")
def kit_lots(session: SessionDep, actor: CurrentUser, include_expired: bool = False) -> list[KitLotPublic]:
    """Every kit lot (shared reference data), with whether the district holds it."""
    return stock.kit_lots(session, actor, include_expired=include_expired)


@router.post("/kit-lots/{kit_lot_id}/receive")
def receive(session: SessionDep, actor: CurrentUser, kit_lot_id: RowId, body: StockReceive) -> StockLevel:
    """Book a delivery of the lot into the district's stock (administrators); the first one waits for acceptance."""
    held = stock.receive(
        session,
        actor,
        kit_lot_id,
        body.quantity,
        received_on=body.received_on,
        min_units=body.min_units,
        note=body.note,
    )
    session.commit()
    return stock.level_of(session, held)


@router.post("/kit-lots/{kit_lot_id}/accept")
def accept(session: SessionDep, actor: CurrentUser, kit_lot_id: RowId, body: StockAccept) -> StockLevel:
    """Record the lot's check on receipt, accepted or rejected with a note (administrators); once."""
    held = stock.accept(session, actor, kit_lot_id, body.accepted, body.note)
    session.commit()
    return stock.level_of(session, held)


@router.post("/kit-lots/{kit_lot_id}/open")
def open_lot(session: SessionDep, actor: CurrentUser, kit_lot_id: RowId, body: StockOpen) -> StockLevel:
    """Record the day the lot was opened; its shelf life after opening runs from then."""
    held = stock.open_lot(session, actor, kit_lot_id, body.opened_on)
    session.commit()
    return stock.level_of(session, held)


@router.post("/kit-lots/{kit_lot_id}/write-off")
def write_off(session: SessionDep, actor: CurrentUser, kit_lot_id: RowId, body: StockWriteOff) -> StockLevel:
    """Take units out of stock: broken, used for quality control, spoiled or other (with a note)."""
    held = stock.write_off(session, actor, kit_lot_id, body.reason, body.quantity, body.note)
    session.commit()
    return stock.level_of(session, held)
