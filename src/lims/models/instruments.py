"""Instruments' calibration and maintenance records, and the files of readings imported from instruments."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from lims.models.common import utcnow


class CalibrationBase(SQLModel):
    """A calibration (检定/校准) of an instrument: when, by whom, the certificate and when the next one is due."""

    calibrated_on: date
    performed_by: str = Field(min_length=1, max_length=100, description="The person or body that calibrated it")
    certificate_number: str = Field(default="", max_length=64)
    next_due: date = Field(description="The instrument refuses results after this day until calibrated again")
    note: str = Field(default="", max_length=500)


class CalibrationRecord(CalibrationBase, table=True):
    """A calibration row; it moves its instrument's `calibration_due` to `next_due`."""

    __tablename__ = "instrument_calibration"
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    instrument_id: int = Field(foreign_key="instrument.id", index=True)
    # The due date this calibration replaced: whether a reading measured before it was in calibration.
    previous_due: date
    # The attached certificate (PDF or image) kept once by SHA-256 in file_content, as case files are.
    certificate_sha256: str = Field(default="", max_length=64)
    certificate_type: str = Field(default="", max_length=32)
    certificate_size: int = 0
    recorded_by_id: int = Field(foreign_key="app_user.id")
    recorded_at: datetime = Field(default_factory=utcnow)


class MaintenanceBase(SQLModel):
    """Maintenance (维护/保养/维修) of an instrument: what was done, when and by whom."""

    performed_on: date
    performed_by: str = Field(min_length=1, max_length=100)
    work: str = Field(min_length=1, max_length=500, description="What was done")


class MaintenanceRecord(MaintenanceBase, table=True):
    """A maintenance row."""

    __tablename__ = "instrument_maintenance"
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    instrument_id: int = Field(foreign_key="instrument.id", index=True)
    recorded_by_id: int = Field(foreign_key="app_user.id")
    recorded_at: datetime = Field(default_factory=utcnow)


class ReadingImport(SQLModel, table=True):
    """A file of readings exported by an instrument and imported: which file (by SHA-256), with which mapping,
    and what became of its rows. The same file imported again is found here and stores nothing twice."""

    __tablename__ = "reading_import"
    __table_args__ = (UniqueConstraint("instrument_id", "sha256", name="uq_reading_import_instrument_file"),)
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    instrument_id: int = Field(foreign_key="instrument.id", index=True)
    sha256: str = Field(max_length=64)
    file_name: str = Field(default="", max_length=200)
    mapping: str = Field(max_length=64)
    rows: int = 0
    stored: int = 0
    held: int = 0
    rejected: int = 0
    imported_by_id: int = Field(foreign_key="app_user.id")
    imported_at: datetime = Field(default_factory=utcnow)
