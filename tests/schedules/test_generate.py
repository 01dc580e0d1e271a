"""Generation and re-planning on small hand-made plans."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from schedules import (
    CalendarError,
    Family,
    Plan,
    PlanError,
    Reason,
    Schedule,
    Task,
    Weekday,
    generate,
    quotas,
    replan,
    vehicle_days,
)


def _plan(**changes: Any) -> Plan:
    data: dict[str, Any] = {
        "name": "unit plan",
        "month": "2026-10",
        "vehicle": {"samples_per_day": 20, "channels_per_day": {"pesticide": 20, "gold": 20, "spectro": 20}},
        "categories": {"VEG": "vegetables", "PORK": "pork", "NOODLES": "noodles"},
        "items": {
            "OPC": {"family": "pesticide", "categories": ["VEG"]},
            "CLB": {"family": "gold", "categories": ["PORK"]},
            "RAC": {"family": "gold", "categories": ["PORK"]},
            "BORAX": {"family": "spectro", "categories": ["NOODLES"]},
            "RONG": {"family": "spectro", "categories": ["NOODLES"]},
        },
        "points": [
            {"code": "P01", "station": "ST00", "area": "urban", "categories": ["VEG", "PORK", "NOODLES"],
             "batches": {"VEG": 6, "PORK": 3, "NOODLES": 2}},
            {"code": "P02", "station": "RC01", "area": "rural", "categories": ["VEG", "PORK"],
             "batches": {"VEG": 4, "PORK": 2}},
        ],
    }  # fmt: skip
    for key, value in changes.items():
        data[key] = value
    return Plan.model_validate(data)


def _totals(tasks: tuple[Task, ...]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for t in tasks:
        for c, n in t.batches.items():
            out[(t.point, c)] = out.get((t.point, c), 0) + n
    return out


def test_every_working_day_plan_meets_quotas_on_working_days() -> None:
    schedule = generate(_plan())
    assert schedule.shortfalls == ()
    assert _totals(schedule.tasks) == {
        ("P01", "VEG"): 6, ("P01", "PORK"): 3, ("P01", "NOODLES"): 2, ("P02", "VEG"): 4, ("P02", "PORK"): 2,
    }  # fmt: skip
    assert {t.date for t in schedule.tasks} <= set(schedule.working_days)
    noodles = [t for t in schedule.tasks if "NOODLES" in t.batches]
    assert all(t.items[-2:] == ("BORAX", "RONG") for t in noodles)
    assert all(t.channels.get(Family.SPECTRO) == 2 * t.batches["NOODLES"] for t in noodles)
    assert all(t.tests["BORAX"] == t.tests["RONG"] == t.batches["NOODLES"] for t in noodles)


def test_schedule_round_trips_through_json() -> None:
    schedule = generate(_plan(rule={"visits": 2}))
    again = Schedule.from_dict(json.loads(schedule.to_json()))
    assert again == schedule
    assert again.to_json() == schedule.to_json()


def test_tuesday_thursday_rule_with_and_without_adjusted_days() -> None:
    rule = {"weekdays": ["TUE", "THU"], "visits": 2}
    days = vehicle_days(_plan(rule=rule), "2026-10")
    assert all(d.weekday() in (1, 3) or d == date(2026, 10, 10) for d in days)
    assert date(2026, 10, 10) in days
    without = vehicle_days(_plan(rule={**rule, "adjusted_workdays": False}), "2026-10")
    assert date(2026, 10, 10) not in without
    assert [d.day for d in without] == [8, 13, 15, 20, 22, 27, 29]
    schedule = generate(_plan(rule={**rule, "adjusted_workdays": False}))
    assert {t.date for t in schedule.tasks} <= set(without)
    assert sum(1 for t in schedule.tasks if t.point == "P01") == 2


def test_days_off_and_weekday_blackouts() -> None:
    plan = _plan(rule={"days_off": ["2026-10-12..2026-10-16"]})
    assert not any(12 <= d.day <= 16 for d in vehicle_days(plan, "2026-10"))
    points = [
        {"code": "P01", "station": "ST00", "area": "urban", "categories": ["VEG"], "batches": {"VEG": 8},
         "blackout": ["MON", "FRI"]},
    ]  # fmt: skip
    schedule = generate(_plan(points=points))
    assert schedule.tasks and all(t.date.weekday() not in (0, 4) for t in schedule.tasks)


def test_per_visit_batches_multiply_by_visits() -> None:
    plan = _plan(rule={"visits": 3, "batches_per": "visit"})
    assert quotas(plan)["P01"] == {"VEG": 18, "PORK": 9, "NOODLES": 6}
    schedule = generate(plan)
    p01 = [t for t in schedule.tasks if t.point == "P01"]
    assert [dict(t.batches) for t in p01] == [{"VEG": 6, "PORK": 3, "NOODLES": 2}] * 3


def test_visits_are_spread_over_the_month() -> None:
    schedule = generate(_plan(rule={"visits": 3}))
    days = [t.date for t in schedule.tasks if t.point == "P01"]
    thirds = list(schedule.working_days)
    assert len(days) == 3
    assert days[0] in thirds[:6] and days[1] in thirds[6:12] and days[2] in thirds[12:]


def test_shortfall_is_reported_per_point_and_item() -> None:
    vehicle = {"samples_per_day": 20, "channels_per_day": {"pesticide": 20, "gold": 20, "spectro": 0}}
    schedule = generate(_plan(vehicle=vehicle))
    assert [(s.point, s.item, s.category, s.batches, s.reason) for s in schedule.shortfalls] == [
        ("P01", "BORAX", "NOODLES", 2, Reason.CAPACITY),
        ("P01", "RONG", "NOODLES", 2, Reason.CAPACITY),
    ]
    assert _totals(schedule.tasks)[("P01", "VEG")] == 6
    assert Schedule.from_dict(json.loads(schedule.to_json())) == schedule


def test_tight_capacity_fills_days_and_reports_the_rest() -> None:
    vehicle = {"samples_per_day": 1, "channels_per_day": {"pesticide": 1, "gold": 2, "spectro": 2}}
    schedule = generate(_plan(vehicle=vehicle))
    assert len(schedule.tasks) == 17 and schedule.shortfalls == ()  # 17 batches, one a day over 18 days
    schedule = generate(_plan(vehicle=vehicle, rule={"days_off": ["2026-10-19..2026-10-31"]}))
    assert len(schedule.tasks) == len(schedule.working_days) == 8
    missing = {(s.point, s.category): s.batches for s in schedule.shortfalls}
    assert sum(t.samples for t in schedule.tasks) + sum(missing.values()) == 17


def test_a_point_closed_all_month_has_no_day() -> None:
    points = [{"code": "P01", "station": "ST00", "area": "urban", "categories": ["VEG"], "batches": {"VEG": 2},
               "blackout": ["2026-10-01..2026-10-31"]}]  # fmt: skip
    schedule = generate(_plan(points=points))
    assert schedule.tasks == ()
    assert [(s.item, s.batches, s.reason) for s in schedule.shortfalls] == [("OPC", 2, Reason.NO_DAY)]


def test_points_per_day_limit() -> None:
    points = [
        {"code": f"P{i:02d}", "station": "ST00", "area": "urban", "categories": ["VEG"], "batches": {"VEG": 1}}
        for i in range(40)
    ]
    vehicle = {"samples_per_day": 20, "points_per_day": 2, "channels_per_day": {"pesticide": 20, "gold": 0,
               "spectro": 0}}  # fmt: skip
    items = {"OPC": {"family": "pesticide", "categories": ["VEG"]}}
    schedule = generate(_plan(points=points, vehicle=vehicle, items=items))
    per_day: dict[date, int] = {}
    for t in schedule.tasks:
        per_day[t.date] = per_day.get(t.date, 0) + 1
    assert max(per_day.values()) == 2
    assert len(schedule.tasks) == 36 and len(schedule.shortfalls) == 4


def test_month_is_required_and_must_agree() -> None:
    plan = _plan(month=None)
    with pytest.raises(PlanError, match="give a month"):
        generate(plan)
    assert generate(plan, "2026-11").month.month == 11
    with pytest.raises(PlanError, match="the plan is for 2026-10, not 2026-11"):
        generate(_plan(), "2026-11")


def test_month_outside_calendar_data() -> None:
    with pytest.raises(CalendarError, match="no statutory holiday data for 2099"):
        generate(_plan(month=None), "2099-03")


def test_replan_keeps_done_tasks_and_moves_the_rest_forward() -> None:
    plan = _plan(rule={"visits": 4})
    first = generate(plan)
    cut = date(2026, 10, 19)
    done = [t for t in first.tasks if t.date < cut and t.point == "P01"]
    assert done
    second = replan(plan, "2026-10", done, cut)
    assert [t for t in second.tasks if t.done] == [replace(t, done=True) for t in done]
    assert all(t.date >= cut for t in second.tasks if not t.done)
    assert second.shortfalls == ()
    assert _totals(second.tasks) == _totals(first.tasks)


def test_replan_counts_partial_work_and_rejects_foreign_tasks() -> None:
    plan = _plan()
    partial = Task(date(2026, 10, 9), "P01", "ST00", "urban", 0, {"VEG": 1}, ("OPC",))  # type: ignore[arg-type]
    second = replan(plan, "2026-10", [partial], date(2026, 10, 20))
    assert _totals(second.tasks)[("P01", "VEG")] == 6
    assert sum(t.batches.get("VEG", 0) for t in second.tasks if t.point == "P01" and not t.done) == 5
    stranger = Task(date(2026, 10, 9), "P99", "ST00", "urban", 0, {"VEG": 1}, ("OPC",))  # type: ignore[arg-type]
    with pytest.raises(PlanError, match="unknown point"):
        replan(plan, "2026-10", [stranger], date(2026, 10, 20))
    late = Task(date(2026, 11, 2), "P01", "ST00", "urban", 0, {"VEG": 1}, ("OPC",))  # type: ignore[arg-type]
    with pytest.raises(PlanError, match="not in 2026-10"):
        replan(plan, "2026-10", [late], date(2026, 10, 20))


def test_replan_after_the_month_reports_everything_left() -> None:
    second = replan(_plan(), "2026-10", [], date(2026, 11, 1))
    assert second.tasks == ()
    assert {s.reason for s in second.shortfalls} == {Reason.NO_DAY}


def test_weekday_numbers() -> None:
    assert [w.number for w in Weekday] == list(range(7))


def test_capacity_exactly_equal_to_the_work_is_used_to_the_last_sample() -> None:
    points = [
        {"code": f"P{i:02d}", "station": "ST00", "area": "urban", "categories": ["VEG"], "batches": {"VEG": 18}}
        for i in range(10)
    ]
    vehicle = {"samples_per_day": 10, "channels_per_day": {"pesticide": 10, "gold": 0, "spectro": 0}}
    items = {"OPC": {"family": "pesticide", "categories": ["VEG"]}}
    schedule = generate(_plan(points=points, vehicle=vehicle, items=items, rule={"visits": 2}))
    assert schedule.shortfalls == ()
    assert all(sum(t.samples for t in schedule.day(d)) == 10 for d in schedule.working_days)  # 18 days x 10
