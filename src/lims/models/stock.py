"""Kit lots as stock: each district's holding of a lot, its acceptance on receipt, and the ledger of its units.

A kit lot (`KitLot`) is reference data shared by every district: the maker's lot number, expiry and the
leaflet's figures. What a district's lab holds of it is a `KitStock` row: how many units it received and
has left, whether the lot passed its check on receipt, when the lab opened it, the minimum it keeps. Every
change of the units is a `StockMovement`, appended and never changed: received, consumed by a result,
used for quality control, broken, spoiled, other. The units left are the sum of the movements; the
holding keeps that sum (`remaining`) so that taking units is one conditional update (two results taking
the last card at once: exactly one gets it).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from lims.models.common import json_column, utcnow


class Acceptance(StrEnum):
    """The check of a lot on receipt, before its first use (验收)."""

    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class MovementKind(StrEnum):
    """Why units of a lot came in or went out."""

    RECEIVED = "received"
    CONSUMED = "consumed"  # by a test result (its id)
    QC = "qc"  # quality-control cards, strips or reagent sets
    BROKEN = "broken"
    SPOILED = "spoiled"
    OTHER = "other"


# The reasons units are written off (what the reconciliation names as the difference).
WRITE_OFF_REASONS = (MovementKind.BROKEN, MovementKind.SPOILED, MovementKind.QC, MovementKind.OTHER)


class AlertCondition(StrEnum):
    """A condition of a holding the district's administrators are told about once."""

    LOW = "low"  # fewer units than N days of use, or than the holding's minimum
    NEAR_EXPIRY = "near_expiry"  # expires within 30 days


class KitStock(SQLModel, table=True):
    """A district's holding of one kit lot."""

    __tablename__ = "kit_stock"
    __table_args__ = (UniqueConstraint("district_id", "kit_lot_id", name="uq_kit_stock_district_lot"),)
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    kit_lot_id: int = Field(foreign_key="kit_lot.id", index=True)
    remaining: int = Field(default=0, description="Units left: the sum of the holding's movements")
    min_units: int | None = Field(default=None, description="Below this many units the stock is low")
    acceptance: str = Field(default=Acceptance.PENDING, max_length=16)
    accepted_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    accepted_at: datetime | None = None
    acceptance_note: str = Field(default="", max_length=500)
    opened_on: date | None = Field(default=None, description="The district's local date the lot was opened")
    received_on: date | None = Field(default=None, description="The local date of the first delivery")
    created_at: datetime = Field(default_factory=utcnow)


class StockMovement(SQLModel, table=True):
    """One change of a holding's units, appended and never changed; `quantity` is signed (in > 0, out < 0)."""

    __tablename__ = "stock_movement"
    __table_args__ = (UniqueConstraint("result_id", name="uq_stock_movement_result"),)
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    kit_stock_id: int = Field(foreign_key="kit_stock.id", index=True)
    kind: str = Field(max_length=16)
    quantity: int
    balance_after: int = Field(description="The holding's units after this movement")
    result_id: int | None = Field(default=None, foreign_key="test_result.id")
    reason: str = Field(default="", max_length=500)
    by_id: int | None = Field(default=None, foreign_key="app_user.id")
    at: datetime = Field(default_factory=utcnow, index=True)


class StockAlert(SQLModel, table=True):
    """A condition of a holding raised once for the district's administrators (notified by the read mark)."""

    __tablename__ = "stock_alert"
    __table_args__ = (UniqueConstraint("kit_stock_id", "condition", name="uq_stock_alert_condition"),)
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    kit_stock_id: int = Field(foreign_key="kit_stock.id", index=True)
    condition: str = Field(max_length=16)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=json_column(nullable=False))
    raised_at: datetime = Field(default_factory=utcnow, index=True)


# API schemas -------------------------------------------------------------------------------------------------


class StockReceive(SQLModel):
    """A delivery of units of a lot (the first one makes the district's holding, waiting for acceptance)."""

    quantity: int = Field(ge=1, le=100_000)
    received_on: date | None = Field(default=None, description="Local date of the delivery (default: today)")
    min_units: int | None = Field(default=None, ge=0, le=100_000)
    note: str = Field(default="", max_length=500)


class StockAccept(SQLModel):
    """The check of a lot on receipt: accepted or rejected, with a note of what was checked."""

    accepted: bool
    note: str = Field(default="", max_length=500)


class StockOpen(SQLModel):
    """The day the lot was opened (default: today)."""

    opened_on: date | None = None


class StockWriteOff(SQLModel):
    """Units written off: broken, used for quality control, spoiled or other (a note says what happened)."""

    reason: Literal["broken", "qc", "spoiled", "other"] = Field(description="broken | qc | spoiled | other")
    quantity: int = Field(ge=1, le=100_000)
    note: str = Field(default="", max_length=500)


class StockLevel(SQLModel):
    """A district's holding of a lot as the stock page and `GET /api/v1/stock` show it."""

    kit_stock_id: int
    kit_lot_id: int
    item_code: str
    lot: str
    manufacturer: str
    storage_condition: str
    stock_unit: str
    units_per_test: int
    acceptance: str
    received: int
    remaining: int
    expires_on: date
    days_to_expiry: int
    opened_on: date | None
    usable_until: date = Field(description="Expiry, or the end of the shelf life after opening if earlier")
    tests_per_day: float = Field(description="Tests a day over the last 14 local days")
    runs_out_on: date | None = Field(description="At the current rate; None when nothing was used")
    low: bool
    near_expiry: bool
    usable: bool
    refusal: str = Field(default="", description="Why a result on this lot would be refused now (in English)")
    refusal_code: str = Field(default="", description="The refusal's code, to show it in the reader's language")
    refusal_params: dict[str, Any] = Field(default_factory=dict)


class KitLotPublic(SQLModel):
    """A kit lot as reference data (shared by every district), with whether the reader's district holds it."""

    id: int
    item_code: str
    lot: str
    manufacturer: str
    expires_on: date
    storage_condition: str
    shelf_life_after_opening_days: int | None
    held: bool = Field(description="The reader's district has received the lot (it is stock-tracked there)")


class StockNotice(SQLModel):
    """A stock condition raised once for the district's administrators."""

    alert_id: int
    condition: str = Field(description="low | near_expiry")
    lot: str
    item_code: str
    params: dict[str, Any]
    raised_at: datetime


class LotReconciliationPublic(SQLModel):
    """One lot's month in the reconciliation."""

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
    difference: dict[str, int]
    tests_without_units: int
    balanced: bool


class ReconciliationPublic(SQLModel):
    """A district's stock reconciliation for one month."""

    district: str
    month: str
    balanced: bool
    stored_balances_match: bool
    lots: list[LotReconciliationPublic]
