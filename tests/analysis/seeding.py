"""Seed a history of reviewed results straight into the database: samples and results at chosen days and points."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlmodel import Session

from lims.models import District, PlanTask, Sample, SamplingPoint, TestItem, TestResult, User

ZONE = ZoneInfo("Asia/Shanghai")
TODAY = date(2026, 11, 20)  # the frozen local day of the tests
NOW = datetime.combine(TODAY, time(15, 0), tzinfo=ZONE)


@dataclass(frozen=True)
class Batch:
    """`positive` of `tested` results at a point, for an item and category, spread over `days_ago` (newest, oldest)."""

    point: str
    tested: int
    positive: int
    days_ago: tuple[int, int]
    item: str = "OPC"
    category: str = "VEG_LEAF"
    product: str = "小白菜"
    status: str = "approved"
    urgent: bool = False


def seed(session: Session, batches: list[Batch], district_code: str = "XX", today: date = TODAY) -> None:
    """Insert the batches' samples and judged results (one result per sample), in one go; `days_ago` from `today`."""
    district = session.exec(select(District)).scalars().first() if district_code == "XX" else None
    district = district or session.exec(select(District).where(District.code == district_code)).scalars().one()
    points = {
        p.code: p for p in session.exec(select(SamplingPoint).where(SamplingPoint.district_id == district.id)).scalars()
    }
    items = {i.code: i for i in session.exec(select(TestItem)).scalars()}
    tester = session.exec(select(User).where(User.username == "tester")).scalars().one()
    next_id = (session.exec(select(Sample.id).order_by(Sample.id.desc())).scalars().first() or 0) + 1  # type: ignore[union-attr]
    samples, results = [], []
    for batch in batches:
        task_ref = None
        if batch.urgent:
            task = PlanTask(
                district_id=int(district.id or 0),
                day=today,
                point_id=int(points[batch.point].id or 0),
                kind="urgent",
                complaint="消费者投诉",
            )
            session.add(task)
            session.flush()
            task_ref = f"T{task.id}"
        newest, oldest = batch.days_ago
        for k in range(batch.tested):
            ago = newest + (k * (oldest - newest)) // max(1, batch.tested - 1)
            moment = datetime.combine(today - timedelta(days=ago), time(10, 0), tzinfo=ZONE) + timedelta(minutes=k)
            positive = k < batch.positive
            samples.append(
                {
                    "id": next_id,
                    "label_id": f"S{next_id:09d}"[:12],
                    "district_id": district.id,
                    "point_id": points[batch.point].id,
                    "collected_at": moment,
                    "collected_by_id": tester.id,
                    "task_ref": task_ref,
                    "product_name": batch.product,
                    "category_code": batch.category,
                }
            )
            results.append(
                {
                    "district_id": district.id,
                    "sample_id": next_id,
                    "item_id": items[batch.item].id,
                    "raw": {},
                    "judgement": "positive" if positive else "negative",
                    "reason_params": {},
                    "flags": [],
                    "status": batch.status,
                    "tester_id": tester.id,
                    "tested_at": moment,
                }
            )
            next_id += 1
    if samples:
        session.execute(insert(Sample), samples)
        session.execute(insert(TestResult), results)
    session.commit()


HISTORY = (31, 390)  # days ago: the year before the window
WINDOW = (0, 29)  # the last 30 days, today included
POINTS = ("P01", "P02", "P03", "P04", "P05", "P06", "P07", "P08")


def background(rate_per_100: int = 3) -> list[Batch]:
    """Every point: 100 leafy-vegetable OPC tests in the history year, 10 in the window, at a low rate."""
    return [
        *(Batch(p, 100, rate_per_100, HISTORY) for p in POINTS),
        *(Batch(p, 10, 0, WINDOW) for p in POINTS),
    ]
