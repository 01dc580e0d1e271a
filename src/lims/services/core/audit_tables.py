"""Which tables the audit trail covers, and which chain the events of each row go to.

There is one chain per district (`district:<id>`) and one (`shared`) for the reference data every district
uses: districts, food categories, test items, limits, kit lots, products and trademarks. A row with a
`district_id` column belongs to that district's chain. A row without one follows its parent: a review its
result, a sample version its sample, a sampling point its station, a notification mark its user, a held
reading the instrument that sent it (found by serial; `shared` while the LIMS does not know the
instrument). `legacy` holds the unkeyed events written before keyed chains existed; the first event of
`shared` seals it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, SQLModel, select

from lims.models import (
    BlindSample,
    CalibrationRecord,
    CaseFile,
    ConsumerLead,
    ControlRun,
    District,
    FoodCategory,
    HeldReading,
    Instrument,
    KitLot,
    KitStock,
    Limit,
    MaintenanceRecord,
    NotificationMark,
    PlanSuggestion,
    PlanTask,
    PlanVersion,
    PositiveCase,
    Product,
    PublicWarning,
    ReadingImport,
    Review,
    Sample,
    SampleVersion,
    SamplingPoint,
    Station,
    StockAlert,
    StockMovement,
    TestItem,
    TestResult,
    TrademarkRecord,
    User,
    WebhookSubscription,
)

SHARED = "shared"
LEGACY = "legacy"
DISTRICT_PREFIX = "district:"

# The tables whose every row must match its last audited state.
AUDITED_MODELS: list[type[SQLModel]] = [
    District,
    Station,
    SamplingPoint,
    FoodCategory,
    TestItem,
    Limit,
    KitLot,
    Instrument,
    CalibrationRecord,
    MaintenanceRecord,
    ReadingImport,
    User,
    Sample,
    TestResult,
    PositiveCase,
    CaseFile,
    PublicWarning,
    HeldReading,
    PlanVersion,
    PlanTask,
    PlanSuggestion,
    Product,
    TrademarkRecord,
    Review,
    SampleVersion,
    NotificationMark,
    ConsumerLead,
    KitStock,
    StockMovement,
    StockAlert,
    ControlRun,
    BlindSample,
    WebhookSubscription,
]

# Every other table, with the reason it carries no state of its own to audit.
NOT_AUDITED: dict[str, str] = {
    "audit_event": "the trail itself",
    "audit_chain": "the heads of the chains, checked against the events they name",
    "user_session": "short-lived sign-in sessions, deleted when they expire; signing in and revoking are not "
    "part of the record, and the account changes that revoke them are audited on the user",
    "file_content": "the bytes of case files and of consumers' report photos by SHA-256: each audited case_file "
    "and consumer_lead row names the digest, and a download is refused unless the bytes still hash to it",
    "label_counter": "numbering state of label ids: a wrong counter can only leave a gap or be refused as a "
    "duplicate label, never change a record",
    "webhook_event": "the outbox: a copy, for receivers, of a change audited in the same transaction",
    "webhook_delivery": "delivery state of an outbox event (attempts, next try); what was shared is the event",
    "webhook_attempt": "the delivery log: each try's status code, latency and error, written by the dispatcher",
    "warning_counter": "numbering state of published warnings: each number is audited with its warning, and a "
    "wrong counter can only leave a gap or be refused as a duplicate number, never change a record",
    "vehicle": "a vehicle's enrolment state and link figures (last contact, backlog); its enrolment and every "
    "refused push are events on its district's chain, and its credential is checked against the hash only",
    "vehicle_chain": "how far the centre accepted a vehicle's audit chains: each accepted event verified under the "
    "vehicle's key, and the rows it vouches for are audited on the centre's chains when applied",
    "sync_applied": "idempotency keys of applied vehicle records: a lost key can only be refused by the row's own "
    "unique key or the id map, never change a record",
    "sync_row_map": "which centre row a vehicle's row became; each applied row is audited on the centre's chain",
    "node_identity": "a vehicle node's own name, centre address and link state",
    "sync_outbox": "the node's outbox: a copy, for the centre, of a change audited in the same transaction",
    "sync_cursor": "the node's positions in the centre's chains and the centre's acknowledgements",
}

# Reference data that belongs to no district.
SHARED_MODELS: frozenset[type[SQLModel]] = frozenset(
    {District, FoodCategory, TestItem, Limit, KitLot, Product, TrademarkRecord}
)


@dataclass(frozen=True)
class Parent:
    """The row whose district a row without `district_id` takes: `model` where `key` equals the row's `via`."""

    model: type[SQLModel]
    via: str
    key: str = "id"


PARENTS: dict[type[SQLModel], Parent] = {
    Review: Parent(TestResult, "result_id"),
    SampleVersion: Parent(Sample, "sample_id"),
    SamplingPoint: Parent(Station, "station_id"),
    NotificationMark: Parent(User, "user_id"),
    HeldReading: Parent(Instrument, "instrument_serial", "serial"),
}

_PARENT_ROWS = "audit_parent_rows"


def district_chain(district_id: int) -> str:
    """The name of a district's chain."""
    return f"{DISTRICT_PREFIX}{district_id}"


def chain_of(session: Session, row: SQLModel) -> str:
    """The chain the events of `row` go to (see the module docstring for the rules)."""
    model = type(row)
    if model in SHARED_MODELS:
        return SHARED
    if "district_id" in model.model_fields:
        district_id = getattr(row, "district_id", None)
        return district_chain(int(district_id)) if district_id is not None else SHARED
    parent = PARENTS.get(model)
    if parent is None:
        raise ValueError(f"no audit chain rule for table {model.__tablename__}")
    value = getattr(row, parent.via, None)
    found = _parent_row(session, parent, value) if value is not None else None
    return chain_of(session, found) if found is not None else SHARED


def _parent_row(session: Session, parent: Parent, value: Any) -> SQLModel | None:
    if parent.key == "id":
        return session.get(parent.model, value)
    memo: dict[tuple[str, Any], SQLModel] = session.info.setdefault(_PARENT_ROWS, {})
    key = (str(parent.model.__tablename__), value)
    if key not in memo:
        found = session.exec(select(parent.model).where(getattr(parent.model, parent.key) == value)).first()
        if found is None:
            return None
        memo[key] = found
    return memo[key]


def forget_parents(session: Session) -> None:
    """Drop the parents looked up by natural key (at the end of a transaction)."""
    session.info.pop(_PARENT_ROWS, None)
