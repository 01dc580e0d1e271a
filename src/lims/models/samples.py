"""Samples taken at sampling points, with their correction history."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from lims.models.bounds import MAX_QUANTITY, SaneDay, SaneMoment
from lims.models.common import json_column, utcnow


class SampleData(SQLModel):
    """What the tester records about a sample; a correction replaces these fields."""

    product_name: str = Field(min_length=1, max_length=200)
    category_code: str = Field(max_length=32)
    brand: str = Field(default="", max_length=100, description="Brand or trademark on the package")
    gtin: str | None = Field(default=None, max_length=14, index=True)
    batch: str = Field(default="", max_length=64, description="Batch / lot printed on the package")
    production_date: SaneDay | None = None
    supplier: str = Field(default="", max_length=200)
    vendor: str = Field(default="", max_length=200, description="被检单位: the business the sample was taken from")
    stall: str = Field(default="", max_length=64, description="摊位: the stall or counter at the sampling point")
    quantity: float | None = Field(default=None, ge=0, le=MAX_QUANTITY)
    quantity_unit: str = Field(default="kg", max_length=16)
    seal_number: str = Field(default="", max_length=32, description="备样封条号: the seal on the retained sample")


class Sample(SampleData, table=True):
    """A sample row holding the data in effect, which is what the public sees once results are published.

    `version` is the number of that data's version in `sample_version`; `pending_version` names a
    correction awaiting review (at most one at a time), which takes effect only when a reviewer approves.
    """

    __tablename__ = "sample"
    id: int | None = Field(default=None, primary_key=True)
    label_id: str = Field(max_length=12, unique=True, index=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    point_id: int = Field(foreign_key="sampling_point.id", index=True)
    collected_at: datetime = Field(index=True)
    collected_by_id: int = Field(foreign_key="app_user.id")
    task_ref: str | None = Field(default=None, max_length=64, description="Plan task this sample fulfils")
    version: int = 1
    pending_version: int | None = Field(default=None, description="A correction awaiting review")
    created_at: datetime = Field(default_factory=utcnow)


class VersionState(StrEnum):
    """Where a version of a sample's data stands."""

    RECORDED = "recorded"  # took effect when recorded: registration, or a correction before anything was published
    PENDING = "pending"  # a correction of a sample with published results, awaiting a reviewer
    APPROVED = "approved"  # such a correction, approved: it took effect then
    REJECTED = "rejected"  # such a correction, rejected with a reason: it never took effect


class SampleVersion(SQLModel, table=True):
    """One version of a sample's data, readable forever: in effect, earlier, awaiting review or rejected."""

    __tablename__ = "sample_version"
    __table_args__ = (UniqueConstraint("sample_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    sample_id: int = Field(foreign_key="sample.id", index=True)
    version: int
    data: dict[str, Any] = Field(sa_column=json_column(nullable=False))
    reason: str = ""
    recorded_at: datetime = Field(default_factory=utcnow)
    recorded_by_id: int = Field(foreign_key="app_user.id")
    state: str = Field(default=VersionState.RECORDED, max_length=16, index=True)
    reviewed_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    reviewed_at: datetime | None = None
    review_reason: str = Field(default="", max_length=500)


class LabelCounter(SQLModel, table=True):
    """The last daily sequence number given to a district's label ids on one local date.

    Numbering state, not part of the record: every label it produced is audited with its sample, and a
    wrong counter can only leave a gap or meet the label id's unique constraint, never change a record.
    """

    __tablename__ = "label_counter"
    __table_args__ = (UniqueConstraint("district_id", "day"),)
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id")
    day: date
    last: int = 0


class SampleCreate(SampleData):
    """What a tester sends to register a sample."""

    point_code: str = Field(min_length=1, max_length=16)
    collected_at: SaneMoment | None = None
    task_ref: str | None = Field(default=None, max_length=64)


class SampleCorrection(SampleData):
    """A corrected version of a sample's data, with the reason for the correction."""

    reason: str = Field(min_length=3, max_length=500)


class CorrectionPublic(SQLModel):
    """A correction of a sample with published results: what the public sees now and what would replace it."""

    sample_label_id: str
    version: int
    state: str
    reason: str
    requested_by: str
    requested_by_id: int
    requested_at: datetime
    current: dict[str, Any] = Field(description="The data in effect (what the public sees)")
    proposed: dict[str, Any]
    changed: list[str] = Field(description="Names of the fields the correction changes")
    yours: bool = Field(
        default=False, description="You asked for it or took the sample, so you cannot review it (four-eyes)"
    )


class CorrectionDecision(SQLModel):
    """A reviewer's decision on a sample correction; a rejection needs a reason."""

    reason: str = Field(default="", max_length=500)


class SamplePublic(SampleData):
    """A sample as the API shows it: the data in effect, and a correction awaiting review if there is one."""

    id: int
    production_date: date | None = None  # what is stored, unvalidated: output never fails on an old row
    label_id: str
    point_code: str
    point_name: str
    collected_at: datetime
    task_ref: str | None
    version: int
    pending_correction: CorrectionPublic | None = None


class SampleVersionPublic(SQLModel):
    """One version of a sample's data."""

    version: int
    data: dict[str, Any]
    reason: str
    recorded_at: datetime
    state: str
    reviewed_at: datetime | None
    review_reason: str
