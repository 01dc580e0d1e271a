"""Hypothesis strategies for random sampling plans, and the capacity check the properties rely on."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date
from typing import Any

from hypothesis import strategies as st

from schedules import Family, Month, Plan, Schedule, Weekday, adjusted_workdays, quotas, vehicle_days

CATEGORY_POOL = ["C0", "C1", "C2", "C3", "C4", "C5"]
WEEKDAYS = [w.value for w in Weekday]
FAMILIES = [f.value for f in Family]
YEARS = range(2019, 2027)
MONTHS = [Month(y, m) for y in YEARS for m in range(1, 13)]
MONTHS_WITH_ADJUSTED = [m for m in MONTHS if adjusted_workdays(m)]


@st.composite
def plan_data(
    draw: st.DrawFn, *, blackouts: bool = True, daily_point: bool = False, month: Month | None = None
) -> dict[str, Any]:
    """A plan as plain data, without the `vehicle` section."""
    month = month or draw(st.sampled_from(MONTHS))
    cats = draw(st.lists(st.sampled_from(CATEGORY_POOL), min_size=1, max_size=6, unique=True))
    n_items = draw(st.integers(1, 5))
    items = {
        f"I{i}": {
            "family": draw(st.sampled_from(FAMILIES)),
            "categories": draw(st.lists(st.sampled_from(cats), min_size=1, max_size=3, unique=True)),
        }
        for i in range(n_items)
    }
    tested = [c for c in cats if any(c in it["categories"] for it in items.values())]
    points = []
    for i in range(draw(st.integers(1, 7))):
        sold = draw(st.lists(st.sampled_from(cats), min_size=1, max_size=len(cats), unique=True))
        batches = {c: draw(st.integers(0, 8)) for c in sold if c in tested}
        point: dict[str, Any] = {
            "code": f"P{i:02d}",
            "station": f"ST{i % 3:02d}",
            "area": draw(st.sampled_from(["urban", "rural"])),
            "categories": sold,
            "batches": batches,
        }
        visits = draw(st.none() | st.integers(1, 6))
        if visits is not None:
            point["visits"] = visits
        if blackouts and draw(st.booleans()):
            days = month.days()
            point["blackout"] = draw(st.lists(st.sampled_from(days) | st.sampled_from(WEEKDAYS[:5]), max_size=4))
        points.append(point)
    rule: dict[str, Any] = {
        "weekdays": draw(st.lists(st.sampled_from(WEEKDAYS[:6]), min_size=1, max_size=6, unique=True)),
        "adjusted_workdays": draw(st.booleans()),
        "batches_per": draw(st.sampled_from(["month", "visit"])),
    }
    visits = draw(st.none() | st.integers(1, 5))
    if visits is not None:
        rule["visits"] = visits
    if daily_point:
        rule = {"weekdays": WEEKDAYS[:5], "adjusted_workdays": True, "batches_per": "visit"}
        daily: dict[str, Any] = {
            "code": "PD",
            "station": "ST00",
            "area": "urban",
            "categories": [tested[0] if tested else cats[0]],
        }
        if tested:
            daily["batches"] = {tested[0]: draw(st.integers(1, 3))}
        points.append(daily)
        for p in points:
            p.pop("blackout", None)
            if p is not daily:
                p.setdefault("visits", draw(st.integers(1, 4)))
    return {
        "name": "random plan",
        "month": str(month),
        "rule": rule,
        "categories": {c: c for c in cats},
        "items": items,
        "points": points,
    }


@st.composite
def plans(draw: st.DrawFn, /, **kwargs: Any) -> Plan:
    """Any valid plan: capacity from scarce to ample, points per day limited or not."""
    data = draw(plan_data(**kwargs))
    data["vehicle"] = {
        "samples_per_day": draw(st.integers(1, 40)),
        "channels_per_day": {f: draw(st.integers(0, 40)) for f in FAMILIES},
    }
    if draw(st.booleans()):
        data["vehicle"]["points_per_day"] = draw(st.integers(1, 6))
    return Plan.model_validate(data)


def _demand(plan: Plan, due: Mapping[str, Mapping[str, int]]) -> list[int]:
    usage = plan.category_usage()
    out = [0] * (1 + len(Family))
    for quota in due.values():
        for cat, n in quota.items():
            out[0] += n
            for k, fam in enumerate(Family, start=1):
                out[k] += n * usage[cat][fam]
    return out


def _widest(plan: Plan) -> list[int]:
    usage = plan.category_usage()
    return [1] + [max(usage[c][f] for c in plan.categories) for f in Family]


@st.composite
def roomy_plans(draw: st.DrawFn, /, ample: bool = False, **kwargs: Any) -> Plan:
    """Plans without blackouts or a points-per-day limit whose capacity leaves room for every quota.

    With `ample`, one day could take the whole month's work, so no visit ever has to be split.
    """
    kwargs.setdefault("blackouts", False)
    data = draw(plan_data(**kwargs))
    data["vehicle"] = {"samples_per_day": 1, "channels_per_day": dict.fromkeys(FAMILIES, 0)}
    probe = Plan.model_validate(data)
    days = max(len(vehicle_days(probe, Month.parse(probe.month or ""))), 1)
    demand, widest = _demand(probe, quotas(probe)), _widest(probe)
    dims = len(demand)
    caps = [max(4 * dims * w, math.ceil(2 * dims * d / days), 1) for d, w in zip(demand, widest, strict=True)]
    if ample:
        caps = [max(c, 2 * d + w) for c, d, w in zip(caps, demand, widest, strict=True)]
    caps = [c + draw(st.integers(0, 5)) for c in caps]
    data["vehicle"] = {"samples_per_day": caps[0], "channels_per_day": dict(zip(FAMILIES, caps[1:], strict=True))}
    return Plan.model_validate(data)


def capacity_allows(plan: Plan, due: Mapping[str, Mapping[str, int]], days: int) -> bool:
    """Aggregate headroom under which placing batch by batch can never get stuck.

    With no blackouts and no points-per-day limit, a batch fails only when on every day some dimension
    k has less than its own need u_k left, i.e. is over (1 - u_k/cap_k) full. Summed over days that is
    more work than exists when sum_k demand_k / cap_k <= days * (1 - max_k widest_k / cap_k).
    """
    if plan.vehicle.points_per_day is not None or any(p.blackout for p in plan.points):
        return False
    caps = [plan.vehicle.samples_per_day] + [plan.vehicle.channels_per_day.get(f, 0) for f in Family]
    demand, widest = _demand(plan, due), _widest(plan)
    if any(d and not c for d, c in zip(demand, caps, strict=True)):
        return False
    load = sum(d / c for d, c in zip(demand, caps, strict=True) if c)
    eps = max(w / c for w, c in zip(widest, caps, strict=True) if c)
    return load <= days * (1 - eps)


def scheduled(schedule: Schedule) -> dict[tuple[str, str], int]:
    """Batches scheduled per (point, category), done tasks included."""
    out: dict[tuple[str, str], int] = {}
    for task in schedule.tasks:
        for cat, n in task.batches.items():
            out[(task.point, cat)] = out.get((task.point, cat), 0) + n
    return out


def short(schedule: Schedule) -> dict[tuple[str, str], int]:
    """Batches not scheduled per (point, category) (each item of a category carries the same count)."""
    out: dict[tuple[str, str], int] = {}
    for s in schedule.shortfalls:
        out[(s.point, s.category)] = s.batches
    return out


def day_load(plan: Plan, schedule: Schedule, day: date) -> list[int]:
    """Samples, channels per family and points used on a day."""
    tasks = schedule.day(day)
    return [sum(t.samples for t in tasks)] + [sum(t.channels.get(f, 0) for t in tasks) for f in Family] + [len(tasks)]
