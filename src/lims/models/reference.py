"""Reference data: districts, stations, sampling points, food categories, items, limits, kits, instruments."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from lims.models.common import json_column

# The IANA time zone of a district that names none (China Standard Time).
DEFAULT_TIME_ZONE = "Asia/Shanghai"


class DistrictBase(SQLModel):
    """An organisation that runs a 12315 centre and its quick-test lab."""

    code: str = Field(max_length=2, unique=True, index=True, description="Two letters, prefix of label ids")
    name: str
    name_en: str = ""
    time_zone: str = Field(
        default=DEFAULT_TIME_ZONE,
        max_length=64,
        sa_column_kwargs={"server_default": DEFAULT_TIME_ZONE},
        description="IANA time zone of the district's days (label dates, day sheets, date filters)",
    )


class District(DistrictBase, table=True):
    """A district row."""

    __tablename__ = "district"
    id: int | None = Field(default=None, primary_key=True)


class StationBase(SQLModel):
    """A consumer-rights service station (省级 / 市级 standard, or a rural consumer association)."""

    code: str = Field(max_length=16, description="Unique within the station's district")
    name: str
    name_en: str = ""
    level: str = Field(description="provincial | city | rural")
    kind: str = Field(default="", description="mall, supermarket, market, scenic, appliance, telecom, …")
    address: str = ""


class Station(StationBase, table=True):
    """A station row; it belongs to exactly one district."""

    __tablename__ = "station"
    __table_args__ = (UniqueConstraint("district_id", "code", name="uq_station_district_code"),)
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)


class SamplingPointBase(SQLModel):
    """A fixed place where the vehicle takes samples (定点)."""

    code: str = Field(max_length=16, description="Unique within the point's district")
    name: str
    name_en: str = ""
    kind: str = ""
    area: str = Field(default="urban", description="urban | rural")
    address: str = ""
    latitude: float | None = None
    longitude: float | None = None


class SamplingPoint(SamplingPointBase, table=True):
    """A sampling point row; it belongs to exactly one district, the district of its station."""

    __tablename__ = "sampling_point"
    __table_args__ = (UniqueConstraint("district_id", "code", name="uq_sampling_point_district_code"),)
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    station_id: int = Field(foreign_key="station.id", index=True)


class SamplingPointPublic(SQLModel):
    """A sampling point as the API shows it: public fields for everyone, the rest for its district's staff."""

    district_code: str
    district_name: str
    district_name_en: str
    code: str
    name: str
    name_en: str
    kind: str
    area: str
    address: str | None = Field(default=None, description="Signed-in staff of the point's district only")
    latitude: float | None = Field(default=None, description="Signed-in staff of the point's district only")
    longitude: float | None = Field(default=None, description="Signed-in staff of the point's district only")
    station_code: str | None = Field(default=None, description="Signed-in staff of the point's district only")


class FoodCategoryBase(SQLModel):
    """A food category that limits are set for."""

    code: str = Field(max_length=32, unique=True, index=True)
    name_zh: str
    name_en: str
    # 食用农产品 (Food Safety Law art. 2, art. 150): a positive quick test follows art. 88 (four-hour retest);
    # a processed food follows art. 112 → 87 (inspection by a qualified lab).
    edible_agricultural: bool = False
    source: str = Field(default="", max_length=300, description="why the category is or is not 食用农产品")


class FoodCategory(FoodCategoryBase, table=True):
    """A food category row."""

    __tablename__ = "food_category"
    id: int | None = Field(default=None, primary_key=True)


class TestItemBase(SQLModel):
    """A test item (检测项目): what is measured, by which family and method."""

    code: str = Field(max_length=16, unique=True, index=True)
    name_zh: str
    name_en: str
    family: str = Field(description="pesticide | gold | spectro")
    method_standard: str = Field(description="The quick-test method run, as the public pages show it")
    quick_method: str = Field(
        default="",
        sa_column_kwargs={"server_default": ""},
        description="The quick-test method actually run: SAMR KJ method number and title, or the national rapid method",
    )
    reference_method: str = Field(
        default="",
        sa_column_kwargs={"server_default": ""},
        description="The laboratory (confirmatory) standard a retest or referral uses",
    )
    unit: str
    banned: bool = False
    retired: bool = Field(
        default=False,
        sa_column_kwargs={"server_default": sa.false()},
        description="No longer in the reference files: kept for the results that name it, offered for no new test",
    )
    # What one test uses up of a kit lot (one card, one strip, one cuvette set), with where that is said.
    stock_unit: str = Field(default="", max_length=24, sa_column_kwargs={"server_default": ""})
    units_per_test: int = Field(default=1, ge=1, sa_column_kwargs={"server_default": "1"})
    stock_source: str = Field(default="", max_length=300, sa_column_kwargs={"server_default": ""})


class TestItem(TestItemBase, table=True):
    """A test item row; `method` holds the method parameters (threshold, curve, detection limit)."""

    __tablename__ = "test_item"
    __test__ = False
    id: int | None = Field(default=None, primary_key=True)
    method: dict[str, Any] = Field(default_factory=dict, sa_column=json_column(nullable=False))


class LimitBase(SQLModel):
    """A limit for an item in a food category, citing its source clause."""

    limit: float | None = Field(default=None, description="None when the substance is banned")
    unit: str
    source: str
    retired: bool = Field(
        default=False,
        sa_column_kwargs={"server_default": sa.false()},
        description="No longer in the reference files: the item is no longer tested in this category",
    )


class Limit(LimitBase, table=True):
    """A limit row."""

    __tablename__ = "item_limit"
    __table_args__ = (UniqueConstraint("item_id", "category_id"),)
    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="test_item.id", index=True)
    category_id: int = Field(foreign_key="food_category.id", index=True)


class KitLotBase(SQLModel):
    """A lot of test kits (cards or reagents) with its expiry, and its reading rules lot-wide and per matrix."""

    lot: str = Field(max_length=40)
    manufacturer: str = ""
    expires_on: date
    cutoff_tc: float | None = None  # lot-wide: for every matrix listed without its own (or any, when none is)
    min_c_intensity: float | None = None
    detection_limit: float | None = None
    detection_limit_unit: str = Field(default="", max_length=16)
    # From the kit's leaflet: how the lot is kept and how long it keeps once opened (None: until expiry).
    storage_condition: str = Field(default="", max_length=80, sa_column_kwargs={"server_default": ""})
    shelf_life_after_opening_days: int | None = None


class KitLot(KitLotBase, table=True):
    """A kit lot row."""

    __tablename__ = "kit_lot"
    __table_args__ = (UniqueConstraint("item_id", "lot"),)
    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="test_item.id", index=True)
    # The leaflet's figures per matrix (food category code): {"MAIZE": {"cutoff_tc": 0.8, "detection_limit": 5}}
    matrices: dict[str, Any] = Field(default_factory=dict, sa_column=json_column(nullable=False))


class InstrumentBase(SQLModel):
    """A quick-test instrument in the lab or the vehicle."""

    serial: str = Field(max_length=40, unique=True, index=True)
    family: str
    model: str = ""
    connection_url: str = ""
    location: str = Field(
        default="",
        max_length=100,
        sa_column_kwargs={"server_default": ""},
        description="Where the instrument stands: the lab, the detection vehicle, a station",
    )
    calibration_due: date


class Instrument(InstrumentBase, table=True):
    """An instrument row."""

    __tablename__ = "instrument"
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
