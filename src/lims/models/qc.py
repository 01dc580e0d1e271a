"""Quality control: control runs per kit lot and day, and blind (proficiency) samples with their scores."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from sqlalchemy import BigInteger, UniqueConstraint
from sqlmodel import Field, SQLModel

from lims.models.bounds import RawFigures, SaneMoment
from lims.models.common import json_column, utcnow

ControlKind = Literal["negative", "positive", "blank", "spiked", "standard"]


class ControlRun(SQLModel, table=True):
    """One control run (a control card, a blank, a standard) of an item and kit lot on a district's local day."""

    __tablename__ = "qc_control_run"
    __table_args__ = (UniqueConstraint("instrument_id", "instrument_sequence", name="uq_qc_control_run_reading"),)
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    item_id: int = Field(foreign_key="test_item.id", index=True)
    kit_lot_id: int | None = Field(default=None, foreign_key="kit_lot.id", index=True)
    kind: str = Field(max_length=16)
    day: date = Field(index=True, description="the district's local date of the run")
    raw: dict[str, Any] = Field(default_factory=dict, sa_column=json_column(nullable=False))
    value: float | None = None  # the quantitative figure (ΔA, concentration read on the curve)
    expected: float | None = None  # a standard's known concentration
    recovery_pct: float | None = None
    passed: bool
    reason_code: str = Field(default="", max_length=48)
    reason_params: dict[str, Any] = Field(default_factory=dict, sa_column=json_column(nullable=False))
    westgard: list[str] = Field(default_factory=list, sa_column=json_column(nullable=False))
    instrument_id: int | None = Field(default=None, foreign_key="instrument.id")
    instrument_sequence: int | None = Field(default=None, sa_type=BigInteger)
    tester_id: int = Field(foreign_key="app_user.id")
    tested_at: datetime
    created_at: datetime = Field(default_factory=utcnow)


class ControlSubmit(SQLModel):
    """A control run recorded by hand (or from an instrument reading marked as a control)."""

    item_code: str = Field(min_length=1, max_length=16)
    kit_lot: str | None = Field(default=None, max_length=40)
    kind: ControlKind
    raw: RawFigures = Field(description="Raw figures named as the item's family expects")
    category_code: str | None = Field(
        default=None, max_length=32, description="The matrix the control card is read for (gold); default: the first"
    )
    expected: float | None = Field(default=None, ge=0, le=1_000_000, description="A standard's known concentration")
    instrument_serial: str | None = Field(default=None, max_length=40)
    tested_at: SaneMoment | None = None


class ControlPublic(SQLModel):
    """A control run as the lab sees it."""

    id: int
    item_code: str
    kit_lot: str | None
    kind: str
    day: date
    raw: dict[str, Any]
    value: float | None
    expected: float | None
    recovery_pct: float | None
    passed: bool
    reason_code: str
    reason: str
    westgard: list[str]
    instrument_serial: str | None
    tested_at: datetime


class QcStatus(SQLModel):
    """Where the controls of one item, kit lot and day stand: what is required, what passed, what holds."""

    item_code: str
    kit_lot: str | None
    day: date
    required: list[str]
    passed: list[str]
    failed: list[str]
    missing: list[str]
    hold: str | None
    held_results: int


class BlindSample(SQLModel, table=True):
    """A proficiency sample: its true outcome and value, seen only by administrators, and the tester's score."""

    __tablename__ = "qc_blind_sample"
    __table_args__ = (UniqueConstraint("sample_id", "item_id", name="uq_qc_blind_sample_item"),)
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    sample_id: int = Field(foreign_key="sample.id", index=True)
    item_id: int = Field(foreign_key="test_item.id")
    true_outcome: str = Field(max_length=16)
    true_value: float | None = None
    true_sd: float | None = None  # the SD for proficiency assessment (z = (x − X) / σ, ISO 13528)
    created_by_id: int = Field(foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow)
    result_id: int | None = Field(default=None, foreign_key="test_result.id")
    score: str = Field(default="", max_length=16)  # "", agree, disagree
    z_score: float | None = None
    scored_at: datetime | None = None


class BlindCreate(SQLModel):
    """An administrator registers a sample as blind for an item, with what it truly holds."""

    sample_label_id: str = Field(min_length=1, max_length=12)
    item_code: str = Field(min_length=1, max_length=16)
    true_outcome: Literal["negative", "positive"]
    true_value: float | None = Field(default=None, ge=0, le=1_000_000)
    true_sd: float | None = Field(default=None, gt=0, le=1_000_000)


class BlindPublic(SQLModel):
    """A blind sample and its score, for administrators only."""

    id: int
    sample_label_id: str
    item_code: str
    true_outcome: str
    true_value: float | None
    true_sd: float | None
    result_id: int | None
    result_judgement: str | None
    result_value: float | None
    score: str
    z_score: float | None
    scored_at: datetime | None
