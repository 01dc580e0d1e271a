"""The tables whose every row must match its last audited state."""

from __future__ import annotations

from sqlmodel import SQLModel

from lims.models import (
    District,
    FoodCategory,
    HeldReading,
    Instrument,
    KitLot,
    Limit,
    PlanTask,
    PlanVersion,
    PositiveCase,
    Product,
    PublicWarning,
    Review,
    Sample,
    SampleVersion,
    SamplingPoint,
    Station,
    TestItem,
    TestResult,
    TrademarkRecord,
    User,
)

AUDITED_MODELS: list[type[SQLModel]] = [
    District,
    Station,
    SamplingPoint,
    FoodCategory,
    TestItem,
    Limit,
    KitLot,
    Instrument,
    User,
    Sample,
    TestResult,
    PositiveCase,
    PublicWarning,
    HeldReading,
    PlanVersion,
    PlanTask,
    Product,
    TrademarkRecord,
    Review,
    SampleVersion,
]
