"""Generation gives exactly the schedules it gave before it was made faster (pinned in tests/schedules/data)."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from schedules import Done, Month, Plan, generate, load_example, load_plan, replan

DATA = Path(__file__).parent / "data"


@cache
def _pinned() -> dict[str, Any]:
    pinned: dict[str, Any] = json.loads((DATA / "pinned_schedules.json").read_text(encoding="utf-8"))
    return pinned


@cache
def _plan(name: str) -> Plan:
    return load_plan(DATA / f"pinned_{name}_plan.yaml")


def _as_stored(schedule: Any) -> Any:
    return json.loads(schedule.to_json(indent=None))


@pytest.mark.parametrize("month", ["2026-02", "2026-10"])
def test_small_tight_plan_gives_the_pinned_schedule(month: str) -> None:
    assert _as_stored(generate(_plan("small"), month)) == _pinned()[f"small {month}"]


def test_replan_gives_the_pinned_schedule() -> None:
    plan = _plan("small")
    done = [
        Done(date(2026, 10, 9), "P00003", {"VEG_LEAF": 1}),
        Done(date(2026, 10, 12), "P00010", dict.fromkeys(plan.points[10].batches, 1)),
    ]
    got = replan(plan, "2026-10", done, date(2026, 10, 14))
    assert _as_stored(got) == _pinned()["small replan 2026-10 from 10-14"]


def test_example_plan_gives_the_pinned_schedule() -> None:
    plan = load_example()
    assert _as_stored(generate(plan, plan.month or "2026-10")) == _pinned()["example"]


def test_three_hundred_points_give_the_pinned_schedules_all_year() -> None:
    plan = _plan("big")
    for month, digest in _pinned()["big sha256"].items():
        text = generate(plan, Month.parse(month)).to_json(indent=None)
        assert hashlib.sha256(text.encode()).hexdigest() == digest, month
