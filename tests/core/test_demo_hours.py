"""The demo builds a day of work at any hour of the local day: nothing is collected, tested or controlled after now."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from lims.models import Sample, TestResult
from lims.models.qc import ControlRun
from lims.services.core import clock

DAY = date(2026, 12, 3)


@pytest.mark.slow
@pytest.mark.parametrize("local_hour", [0.3, 2.5, 9.9, 10.1, 23.9])
def test_a_demo_day_never_reaches_past_now(engine: Engine, local_hour: float) -> None:
    import time_machine

    from lims.services.demo import builder

    now = clock.day_bounds(DAY, "Asia/Shanghai")[0] + timedelta(hours=local_hour)
    with time_machine.travel(now, tick=True):
        summary = builder.run_demo(engine, days=1, samples_per_day=30)
    assert summary.samples >= 30
    with Session(engine) as session:
        latest = [
            session.exec(select(func.max(col(Sample.collected_at)))).one(),
            session.exec(select(func.max(col(TestResult.tested_at)))).one(),
            session.exec(select(func.max(col(ControlRun.tested_at)))).one(),
        ]
    for moment in latest:
        assert moment is not None
        assert _utc(moment) <= now + timedelta(minutes=5), (local_hour, moment)
    shown = date.fromisoformat(summary.plan_day) if summary.plan_day else None
    assert shown is None or shown <= DAY


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
