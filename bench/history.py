"""A bulk seeder for benchmarks: districts with a year of quick-test history, written with plain bulk INSERTs.

The rows are those the services write (districts, stations, points, a tester, samples, reviewed results, positive
cases with their lab verdicts and disposals, control runs, urgent tasks, warnings), without the audit trail and
without judging each reading, so a year of 300,000 results takes seconds instead of hours.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import lims.models  # noqa: F401  (registers the tables)
from lims.models import FoodCategory, Limit, User

ZONE = ZoneInfo("Asia/Shanghai")
POINTS = 10
ITEMS_PER_SAMPLE = 3
POSITIVE_RATE = 0.04
CHUNK = 20_000


def _table(name: str) -> Any:
    return SQLModel.metadata.tables[name]


@dataclass(frozen=True)
class Seeded:
    """What one district got."""

    code: str
    district_id: int
    samples: int
    results: int


def _insert(conn: Connection, name: str, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), CHUNK):
        conn.execute(insert(_table(name)), rows[start : start + CHUNK])


def _next_id(conn: Connection, name: str) -> int:
    table = _table(name)
    found = conn.execute(select(table.c.id).order_by(table.c.id.desc()).limit(1)).scalar()
    return int(found or 0) + 1


def seed_district(conn: Connection, code: str, results: int, last_day: date, seed: int = 1) -> Seeded:
    """One district whose year up to `last_day` (local) holds about `results` reviewed results."""
    rng = random.Random(seed)
    pairs = [
        (item_id, category)
        for item_id, category in conn.execute(
            select(Limit.item_id, FoodCategory.code).join(FoodCategory, FoodCategory.id == Limit.category_id)  # type: ignore[arg-type]
        )
    ]
    by_category: dict[str, list[int]] = {}
    for item_id, category in pairs:
        by_category.setdefault(category, []).append(int(item_id))
    categories = sorted(by_category)
    district_id = _next_id(conn, "district")
    _insert(
        conn,
        "district",
        [{"id": district_id, "code": code, "name": f"{code}区", "name_en": code, "time_zone": str(ZONE)}],
    )
    station_id = _next_id(conn, "station")
    station = {"id": station_id, "district_id": district_id, "code": "ST00", "name": f"{code}站", "name_en": "",
               "level": "provincial", "kind": "", "address": ""}  # fmt: skip
    _insert(conn, "station", [station])
    point_id = _next_id(conn, "sampling_point")
    points = list(range(point_id, point_id + POINTS))
    _insert(conn, "sampling_point", [
        {"id": p, "district_id": district_id, "station_id": station_id, "code": f"P{n + 1:02d}", "name": f"点{n + 1}",
         "name_en": "", "kind": "market", "area": "rural" if n >= POINTS - 2 else "urban", "address": "",
         "latitude": None, "longitude": None}
        for n, p in enumerate(points)
    ])  # fmt: skip
    user_id = _next_id(conn, "app_user")
    user = User(id=user_id, username=f"bench-{code.lower()}", role="tester", password_hash="!", active=False,
                district_id=district_id, full_name="bench")  # fmt: skip
    _insert(conn, "app_user", [user.model_dump()])
    start = datetime.combine(last_day - timedelta(days=364), datetime.min.time(), ZONE).astimezone(UTC)
    span = timedelta(days=365).total_seconds() - 8 * 3600
    sample_id, result_id, case_id = (
        _next_id(conn, "sample"),
        _next_id(conn, "test_result"),
        _next_id(conn, "positive_case"),
    )
    samples, tests, cases = [], [], []
    n = -1
    while len(tests) < results:
        n += 1
        at = start + timedelta(seconds=rng.random() * span)
        category = rng.choice(categories)
        point = rng.choice(points)
        sid = sample_id + n
        samples.append({
            "id": sid, "label_id": f"{code}{sid:010d}", "district_id": district_id, "point_id": point,
            "collected_at": at, "collected_by_id": user_id, "version": 1, "created_at": at,
            "product_name": f"食品{n % 97}",
            "category_code": category, "brand": "", "batch": "", "supplier": "", "vendor": "", "stall": "",
            "quantity_unit": "kg", "seal_number": "",
        })  # fmt: skip
        for item_id in rng.sample(by_category[category], min(ITEMS_PER_SAMPLE, len(by_category[category]))):
            positive = rng.random() < POSITIVE_RATE
            tested = at + timedelta(minutes=40)
            tests.append({
                "id": result_id, "district_id": district_id, "sample_id": sid, "item_id": item_id, "raw": {},
                "unit": "", "judgement": "positive" if positive else "negative", "reason_code": "", "reason_params": {},
                "reason": "", "flags": [], "status": "published", "tester_id": user_id, "tested_at": tested,
                "created_at": tested, "published_at": tested + timedelta(hours=1), "version": 1,
                "correction_reason": "",
                "repeats_required": 0, "repeat_runs": 0, "repeat_state": "",
            })  # fmt: skip
            if positive:
                outcome = rng.choice([None, "confirmed", "not_confirmed"])
                disposed = tested + timedelta(days=3) if outcome == "confirmed" else None
                cases.append({
                    "id": case_id, "result_id": result_id, "district_id": district_id, "point_id": point,
                    "opened_at": tested, "procedure": "art88_retest", "referral_outcome": outcome,
                    "retest_requested_at": tested + timedelta(hours=2) if outcome else None,
                    "status": "closed" if disposed else "open", "disposal_action": "destruction" if disposed else None,
                    "disposal_quantity": 1.5 if disposed else None, "disposal_unit": "kg", "disposal_at": disposed,
                    "photo_count": 0, "notice_recipient": "", "notice_recipient_role": "", "notice_late": False,
                    "sale_suspension_confirmed_by": "", "retest_seal_number": "", "referral_lab": "",
                    "verdict_lab": "", "verdict_cma": "", "verdict_report_number": "", "verdict_method": "",
                    "verdict_analyte": "", "verdict_unit": "", "verdict_limit": "", "verdict_clause": "",
                    "disposal_note": "", "disposal_officer": "", "disposal_witness": "", "disposal_acknowledged_by": "",
                    "disposal_supplier": "", "disposal_purchase_record": "",
                })  # fmt: skip
                case_id += 1
            result_id += 1
    _insert(conn, "sample", samples)
    _insert(conn, "test_result", tests)
    _insert(conn, "positive_case", cases)
    items = sorted({i for i, _c in pairs})
    run_id = _next_id(conn, "qc_control_run")
    runs = []
    for day_index in range(365):
        day = last_day - timedelta(days=day_index)
        at = datetime.combine(day, datetime.min.time(), ZONE).astimezone(UTC) + timedelta(hours=8)
        for item_id in items[:6]:
            runs.append({
                "id": run_id, "district_id": district_id, "item_id": item_id, "kind": "negative", "day": day, "raw": {},
                "passed": rng.random() > 0.02, "reason_code": "", "reason_params": {}, "westgard": [],
                "tester_id": user_id, "tested_at": at, "created_at": at,
            })  # fmt: skip
            run_id += 1
    _insert(conn, "qc_control_run", runs)
    return Seeded(code, district_id, len(samples), len(tests))
