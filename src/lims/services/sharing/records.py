"""The published-result record that other platforms read: one field list for the open-data export and webhooks.

Only what the public trace page shows of a published (or archived) result: no tester, no stall or vendor, no
raw figures, never a proficiency (blind) sample, never a result that was rejected or superseded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import and_, exists, select
from sqlmodel import col

from lims.models import BlindSample, District, FoodCategory, Limit, Sample, SamplingPoint, TestItem, TestResult
from lims.services.core import clock, visibility
from lims.settings import get_settings


@dataclass(frozen=True)
class RecordField:
    """One field of the record: its stable name and JSON type (documented in docs/open-data.md)."""

    name: str
    type: str  # JSON Schema type: string, integer, number; "…|null" when it may be empty
    nullable: bool = False


FIELDS: tuple[RecordField, ...] = (
    RecordField("result_id", "integer"),
    RecordField("sample_label_id", "string"),
    RecordField("district_code", "string"),
    RecordField("district_name", "string"),
    RecordField("point_code", "string"),
    RecordField("point_name", "string"),
    RecordField("point_name_en", "string"),
    RecordField("product_name", "string"),
    RecordField("brand", "string"),
    RecordField("gtin", "string", nullable=True),
    RecordField("batch", "string"),
    RecordField("category_code", "string"),
    RecordField("category_name_zh", "string"),
    RecordField("item_code", "string"),
    RecordField("item_name_zh", "string"),
    RecordField("item_name_en", "string"),
    RecordField("method_standard", "string"),
    RecordField("judgement", "string"),
    RecordField("value", "number", nullable=True),
    RecordField("reported_value", "string", nullable=True),
    RecordField("unit", "string"),
    RecordField("limit", "number", nullable=True),
    RecordField("limit_unit", "string"),
    RecordField("limit_source", "string"),
    RecordField("tested_at", "string"),
    RecordField("tested_on", "string"),
    RecordField("published_at", "string"),
    RecordField("published_on", "string"),
    RecordField("case_state", "string", nullable=True),
    RecordField("trace_url", "string"),
)
NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)

COLUMNS: tuple[Any, ...] = (
    col(TestResult.id).label("result_id"),
    col(TestResult.judgement),
    col(TestResult.value),
    col(TestResult.reported_value),
    col(TestResult.unit),
    col(TestResult.tested_at),
    col(TestResult.published_at),
    col(Sample.label_id),
    col(Sample.product_name),
    col(Sample.brand),
    col(Sample.gtin),
    col(Sample.batch),
    col(Sample.category_code),
    col(FoodCategory.name_zh).label("category_name_zh"),
    col(District.code).label("district_code"),
    col(District.name).label("district_name"),
    col(District.time_zone),
    col(SamplingPoint.code).label("point_code"),
    col(SamplingPoint.name).label("point_name"),
    col(SamplingPoint.name_en).label("point_name_en"),
    col(TestItem.code).label("item_code"),
    col(TestItem.name_zh).label("item_name_zh"),
    col(TestItem.name_en).label("item_name_en"),
    col(TestItem.method_standard),
    col(Limit.limit),
    col(Limit.unit).label("limit_unit"),
    col(Limit.source).label("limit_source"),
)


def published_rows(*conditions: Any) -> Any:
    """The statement of public results (with their sample, point, district, item and limit) under `conditions`."""
    blind = exists().where(
        col(BlindSample.sample_id) == col(TestResult.sample_id), col(BlindSample.item_id) == col(TestResult.item_id)
    )
    return (
        select(*COLUMNS)
        .join(Sample, col(Sample.id) == col(TestResult.sample_id))
        .join(District, col(District.id) == col(TestResult.district_id))
        .join(SamplingPoint, col(SamplingPoint.id) == col(Sample.point_id))
        .join(TestItem, col(TestItem.id) == col(TestResult.item_id))
        .outerjoin(FoodCategory, col(FoodCategory.code) == col(Sample.category_code))
        .outerjoin(
            Limit, and_(col(Limit.item_id) == col(TestResult.item_id), col(Limit.category_id) == col(FoodCategory.id))
        )
        .where(visibility.public_only(), col(TestResult.published_at).is_not(None), ~blind, *conditions)
    )


def _utc_text(moment: datetime) -> str:
    """An ISO 8601 time in UTC with a Z (a naive stored time is UTC)."""
    return clock.local_time(moment, "UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def trace_url(label_id: str) -> str:
    """The consumer's page of a sample."""
    return f"{get_settings().public_base_url.rstrip('/')}/trace/{quote(label_id)}"


def record(row: Any, case_state: str | None) -> dict[str, Any]:
    """A result row of `published_rows` as the record, in the order of `FIELDS`."""
    zone = row.time_zone
    return {
        "result_id": int(row.result_id),
        "sample_label_id": row.label_id,
        "district_code": row.district_code,
        "district_name": row.district_name,
        "point_code": row.point_code,
        "point_name": row.point_name,
        "point_name_en": row.point_name_en or "",
        "product_name": row.product_name,
        "brand": row.brand or "",
        "gtin": row.gtin or None,
        "batch": row.batch or "",
        "category_code": row.category_code,
        "category_name_zh": row.category_name_zh or "",
        "item_code": row.item_code,
        "item_name_zh": row.item_name_zh,
        "item_name_en": row.item_name_en,
        "method_standard": row.method_standard or "",
        "judgement": row.judgement,
        "value": row.value,
        "reported_value": row.reported_value,
        "unit": row.unit or "",
        "limit": row.limit,
        "limit_unit": row.limit_unit or "",
        "limit_source": row.limit_source or "",
        "tested_at": _utc_text(row.tested_at),
        "tested_on": clock.local_date(row.tested_at, zone).isoformat(),
        "published_at": _utc_text(row.published_at),
        "published_on": clock.local_date(row.published_at, zone).isoformat(),
        "case_state": case_state,
        "trace_url": trace_url(row.label_id),
    }


def positive_ids(rows: Sequence[Any]) -> list[int]:
    """The result ids of the positives among `rows` (those that may have a case)."""
    return [int(r.result_id) for r in rows if r.judgement == "positive"]
