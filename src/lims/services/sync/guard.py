"""On a vehicle node, one guard refuses every change to what the centre owns (reviews, cases, reference data, …).

It watches the database session itself, so every service, route, page and command meets it: the ORM's
flush (new, changed and deleted rows) and the bulk and conditional statements run through the session.
The table decides who owns a row (`ownership.node_may_change`); the sync engine applies what it pulls from
the centre inside `outbox.pulling(session)` (also `centre_changes` here), the one way round the guard.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction
from sqlalchemy.sql.dml import UpdateBase

from lims.i18n import _N, Message
from lims.services.core.errors import Conflict
from lims.services.sync import outbox, ownership
from lims.settings import get_settings

# The node's own sign-in sessions: they never travel, so the node keeps them.
NODE_LOCAL = frozenset({"user_session"})
centre_changes = outbox.pulling

# What the refusal names, by table (anything else the centre owns is "data kept at the centre").
THINGS: dict[str, str] = {
    "review": _N("a review"),
    "test_result": _N("a result's review or publication"),
    "sample_version": _N("a review of a sample correction"),
    "sample": _N("a review of a sample correction"),
    "positive_case": _N("a case"),
    "case_file": _N("a case"),
    "notification_mark": _N("a case"),
    "public_warning": _N("a warning"),
    "warning_counter": _N("a warning"),
    "plan_version": _N("a sampling plan"),
    "plan_task": _N("a sampling plan"),
    "plan_suggestion": _N("a sampling plan"),
    "food_category": _N("reference data"),
    "test_item": _N("reference data"),
    "item_limit": _N("reference data"),
    "product": _N("reference data"),
    "trademark": _N("reference data"),
    "instrument": _N("an instrument"),
    "instrument_calibration": _N("an instrument"),
    "instrument_maintenance": _N("an instrument"),
    "kit_lot": _N("a kit lot"),
    "kit_stock": _N("a kit lot"),
    "stock_alert": _N("a kit lot"),
    "app_user": _N("a user account"),
    "district": _N("a district, station or sampling point"),
    "station": _N("a district, station or sampling point"),
    "sampling_point": _N("a district, station or sampling point"),
}
OTHER_THING = _N("data kept at the centre")
REFUSED = _N("a vehicle node cannot change {thing}; do it at the centre")


class CentreOwned(Conflict):
    """A change on a vehicle node to something the centre owns (409, with the thing named)."""

    def __init__(self, table_name: str) -> None:
        super().__init__(
            "node.centre_owned",
            REFUSED,
            details={"table": table_name},
            thing=Message(THINGS.get(table_name, OTHER_THING)),
        )
        self.table_name = table_name


def may_change(table_name: str, fields: set[str] | None) -> bool:
    """Whether a node may change these fields of a row of `table_name`; None: add or remove a whole row."""
    if table_name in NODE_LOCAL:
        return True
    if fields is None:
        return ownership.owner_of(table_name) == "node"
    return ownership.node_may_change(table_name, fields)


def check(table_name: str, fields: set[str] | None) -> None:
    """CentreOwned unless this node may make the change (nothing is refused at the centre)."""
    if get_settings().is_node and not may_change(table_name, fields):
        raise CentreOwned(table_name)


def _guarded(session: Session) -> bool:
    return get_settings().is_node and not session.info.get(outbox._PULLING)


def _table_of(instance: Any) -> str:
    return str(inspect(instance).mapper.local_table.name)


def _before_flush(session: Session, _context: UOWTransaction, _instances: object) -> None:
    if not _guarded(session):
        return
    for instance in session.new:
        check(_table_of(instance), None)
    for instance in session.dirty:
        state = inspect(instance)
        changed = {attr.key for attr in state.attrs if attr.history.has_changes()}
        if changed:
            check(_table_of(instance), changed)
    for instance in session.deleted:
        check(_table_of(instance), None)


def _statement_fields(statement: UpdateBase) -> set[str]:
    values: dict[Any, Any] = getattr(statement, "_values", None) or {}
    return {str(getattr(key, "key", key)) for key in values}


def _do_orm_execute(state: ORMExecuteState) -> None:
    if not (state.is_insert or state.is_update or state.is_delete) or not _guarded(state.session):
        return
    statement = state.statement
    if not isinstance(statement, UpdateBase):
        return
    table = getattr(statement.table, "name", None)
    if table is None:
        return
    # a new or removed row is its owner's alone, whatever its fields (an upsert adds a row too)
    fields = _statement_fields(statement) if state.is_update else None
    check(str(table), fields or None)


_installed = False


def install() -> None:
    """Watch every database session of this process (once; the guard acts only when this LIMS is a node)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "do_orm_execute", _do_orm_execute)
    _installed = True
