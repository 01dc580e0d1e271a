"""Test results, their reviews, and readings held for unknown samples."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from lims.models.bounds import RawFigures, SaneMoment
from lims.models.common import json_column, utcnow


class TestResult(SQLModel, table=True):
    """A judged result with the raw data it was computed from; corrections are new linked rows."""

    __tablename__ = "test_result"
    __test__ = False
    # Lists are read newest first a page at a time (keyset on id) by status, item or judgement; reports and
    # hotspots read a district's or the public's results of a span of days.
    __table_args__ = (
        UniqueConstraint("instrument_id", "instrument_sequence"),
        Index("ix_test_result_status_id", "status", "id"),
        Index("ix_test_result_item_id_id", "item_id", "id"),
        Index("ix_test_result_judgement_id", "judgement", "id"),
        Index("ix_test_result_district_tested_at", "district_id", "tested_at"),
        Index("ix_test_result_district_id_id", "district_id", "id"),
        Index("ix_test_result_status_tested_at", "status", "tested_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    sample_id: int = Field(foreign_key="sample.id", index=True)
    item_id: int = Field(foreign_key="test_item.id", index=True)
    instrument_id: int | None = Field(default=None, foreign_key="instrument.id", index=True)
    # Instruments number their records with 32-bit or wider counters: keep them in 64 bits.
    instrument_sequence: int | None = Field(default=None, sa_type=BigInteger)
    kit_lot_id: int | None = Field(default=None, foreign_key="kit_lot.id")
    channel: int | None = None
    raw: dict[str, Any] = Field(default_factory=dict, sa_column=json_column(nullable=False))
    value: float | None = None  # the full value: comparisons with the limit and statistics use it
    reported_value: str | None = Field(default=None, max_length=32)  # rounded by the method (GB/T 8170)
    unit: str = ""
    judgement: str = Field(index=True)
    reason_code: str = ""
    reason_params: dict[str, Any] = Field(default_factory=dict, sa_column=json_column(nullable=False))
    reason: str = ""  # the reason in English when it was judged; readers see reason_code rendered in their language
    instrument_value: float | None = None
    instrument_judgement: str | None = None
    flags: list[str] = Field(default_factory=list, sa_column=json_column(nullable=False))
    status: str = Field(index=True)
    tester_id: int = Field(foreign_key="app_user.id")
    tested_at: datetime = Field(index=True)
    created_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = Field(default=None, index=True)
    version: int = 1
    supersedes_id: int | None = Field(default=None, foreign_key="test_result.id")
    correction_reason: str = ""
    # A positive the method asks to repeat: how many repeats, how many runs attached, and where it stands
    # ("pending", "confirmed", "not_confirmed"; "" when no repeat is asked). A repeat run points at its result.
    repeats_required: int = 0
    repeat_runs: int = 0
    repeat_state: str = Field(default="", max_length=16)
    repeat_of_id: int | None = Field(default=None, foreign_key="test_result.id", index=True)


class ResultSubmit(SQLModel):
    """Raw data a tester submits for one item of one sample; the LIMS judges it."""

    sample_label_id: str = Field(min_length=1, max_length=12)
    item_code: str = Field(min_length=1, max_length=16)
    raw: RawFigures = Field(description="Raw figures named as the item's family expects")
    instrument_serial: str | None = Field(default=None, max_length=40)
    kit_lot: str | None = Field(default=None, max_length=40)
    channel: int | None = Field(default=None, ge=0, le=64)
    tested_at: SaneMoment | None = None


class ResultCorrection(SQLModel):
    """A corrected submission of raw data for a result that is not yet approved."""

    raw: RawFigures
    reason: str = Field(min_length=3, max_length=500)


class ReviewDecision(SQLModel):
    """A reviewer's decision on a result."""

    reason: str = Field(default="", max_length=500)
    acknowledge_flags: bool = False


class ResultPublic(SQLModel):
    """A result as reviewers and testers see it."""

    id: int
    sample_label_id: str
    item_code: str
    item_name_zh: str
    item_name_en: str
    point_code: str
    value: float | None
    reported_value: str | None = None  # what people read (rounded by the method); `value` is the full figure
    unit: str
    judgement: str
    reason: str
    reason_code: str = ""
    reason_params: dict[str, Any] = Field(default_factory=dict)
    status: str
    flags: list[str]
    raw: dict[str, Any]
    instrument_serial: str | None
    instrument_value: float | None
    instrument_judgement: str | None
    tested_at: datetime
    published_at: datetime | None
    version: int
    supersedes_id: int | None
    repeats_required: int = 0
    repeat_runs: int = 0
    repeat_state: str = ""
    repeat_of_id: int | None = None
    qc_hold: str | None = Field(
        default=None, description="control_failed | control_missing: its kit lot's controls of its day hold it"
    )
    qc_hold_kinds: list[str] = Field(default_factory=list, description="the kinds of control that hold it")


class Review(SQLModel, table=True):
    """A signed review step: what was decided, by whom, and the hash of what they saw."""

    __tablename__ = "review"
    id: int | None = Field(default=None, primary_key=True)
    result_id: int = Field(foreign_key="test_result.id", index=True)
    reviewer_id: int = Field(foreign_key="app_user.id")
    action: str
    meaning: str
    reason: str = ""
    acknowledged_flags: list[str] = Field(default_factory=list, sa_column=json_column(nullable=False))
    signed_hash: str = Field(max_length=64)
    at: datetime = Field(default_factory=utcnow)


class HeldReading(SQLModel, table=True):
    """An instrument reading whose sample is unknown, waiting for a tester to assign it."""

    __tablename__ = "held_reading"
    __table_args__ = (UniqueConstraint("instrument_serial", "sequence"),)
    id: int | None = Field(default=None, primary_key=True)
    instrument_serial: str = Field(max_length=40, index=True)
    sequence: int = Field(sa_type=BigInteger)
    family: str
    item_code: str
    sample_label_id: str | None = None
    reading: dict[str, Any] = Field(sa_column=json_column(nullable=False))
    received_at: datetime = Field(default_factory=utcnow)
    assigned_result_id: int | None = Field(default=None, foreign_key="test_result.id")
