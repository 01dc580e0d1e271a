"""Samples taken at sampling points, with their correction history."""

from __future__ import annotations

from datetime import date, datetime
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
    quantity: float | None = Field(default=None, ge=0, le=MAX_QUANTITY)
    quantity_unit: str = Field(default="kg", max_length=16)


class Sample(SampleData, table=True):
    """A sample row; `version` counts corrections, each kept in `sample_version`."""

    __tablename__ = "sample"
    id: int | None = Field(default=None, primary_key=True)
    label_id: str = Field(max_length=12, unique=True, index=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    point_id: int = Field(foreign_key="sampling_point.id", index=True)
    collected_at: datetime = Field(index=True)
    collected_by_id: int = Field(foreign_key="app_user.id")
    task_ref: str | None = Field(default=None, max_length=64, description="Plan task this sample fulfils")
    version: int = 1
    created_at: datetime = Field(default_factory=utcnow)


class SampleVersion(SQLModel, table=True):
    """One earlier or current version of a sample's data, readable forever."""

    __tablename__ = "sample_version"
    __table_args__ = (UniqueConstraint("sample_id", "version"),)
    id: int | None = Field(default=None, primary_key=True)
    sample_id: int = Field(foreign_key="sample.id", index=True)
    version: int
    data: dict[str, Any] = Field(sa_column=json_column(nullable=False))
    reason: str = ""
    recorded_at: datetime = Field(default_factory=utcnow)
    recorded_by_id: int = Field(foreign_key="app_user.id")


class SampleCreate(SampleData):
    """What a tester sends to register a sample."""

    point_code: str = Field(min_length=1, max_length=16)
    collected_at: SaneMoment | None = None
    task_ref: str | None = Field(default=None, max_length=64)


class SampleCorrection(SampleData):
    """A corrected version of a sample's data, with the reason for the correction."""

    reason: str = Field(min_length=3, max_length=500)


class SamplePublic(SampleData):
    """A sample as the API shows it."""

    id: int
    production_date: date | None = None  # what is stored, unvalidated: output never fails on an old row
    label_id: str
    point_code: str
    point_name: str
    collected_at: datetime
    task_ref: str | None
    version: int


class SampleVersionPublic(SQLModel):
    """One version of a sample's data."""

    version: int
    data: dict[str, Any]
    reason: str
    recorded_at: datetime
