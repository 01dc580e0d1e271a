"""Acceptance on the shipped district plan for October 2026 (National Day holiday 1–7 October)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
import yaml

from schedules import (
    Family,
    adjusted_workdays,
    example_plan_path,
    generate,
    is_statutory_holiday,
    is_working_day,
    load_example,
    load_plan,
)

POINTS = {
    "P01": ("ST00", "urban"), "P02": ("ST01", "urban"), "P03": ("ST02", "urban"), "P04": ("ST03", "urban"),
    "P05": ("ST04", "urban"), "P06": ("ST05", "urban"), "P07": ("ST06", "urban"), "P08": ("ST07", "urban"),
    "P09": ("RC01", "rural"), "P10": ("RC02", "rural"),
}  # fmt: skip
ITEMS = {
    "OPC": ("pesticide", ["VEG_LEAF", "VEG"]),
    "CLB": ("gold", ["PORK", "BEEF_MUTTON"]),
    "RAC": ("gold", ["PORK", "BEEF_MUTTON"]),
    "SAL": ("gold", ["PORK", "BEEF_MUTTON"]),
    "MG": ("gold", ["AQUATIC"]),
    "CAP": ("gold", ["AQUATIC"]),
    "AOZ": ("gold", ["AQUATIC"]),
    "AMOZ": ("gold", ["AQUATIC"]),
    "AHD": ("gold", ["AQUATIC"]),
    "SEM": ("gold", ["AQUATIC"]),
    "AFB1": ("gold", ["MAIZE", "PEANUT", "RICE", "WHEAT"]),
    "HCHO": ("spectro", ["SOAKED_AQUATIC", "TRIPE"]),
    "NO2": ("spectro", ["CURED_MEAT", "PICKLES"]),
    "SO2": ("spectro", ["DRIED_FRUIT", "MUSHROOM"]),
    "BORAX": ("spectro", ["NOODLES"]),
    "RONG": ("spectro", ["NOODLES"]),
}
CATEGORIES = [
    "VEG_LEAF", "VEG", "FRUIT", "PORK", "BEEF_MUTTON", "AQUATIC", "TRIPE", "SOAKED_AQUATIC", "CURED_MEAT", "PICKLES",
    "DRIED_FRUIT", "MUSHROOM", "MAIZE", "PEANUT", "RICE", "WHEAT", "NOODLES",
]  # fmt: skip


def test_example_uses_the_reference_codes() -> None:
    plan = load_example()
    assert list(plan.categories) == CATEGORIES
    assert {p.code: (p.station, p.area.value) for p in plan.points} == POINTS
    assert {c: (i.family, i.categories) for c, i in plan.items.items()} == ITEMS
    assert example_plan_path().name == "district_plan.yaml"


def test_october_2026_no_task_on_a_holiday() -> None:
    schedule = generate(load_example(), "2026-10")
    assert schedule.tasks
    for task in schedule.tasks:
        assert is_working_day(task.date) and not is_statutory_holiday(task.date)
        assert not date(2026, 10, 1) <= task.date <= date(2026, 10, 7)


def test_october_2026_uses_the_adjusted_working_day() -> None:
    schedule = generate(load_example(), "2026-10")
    assert adjusted_workdays("2026-10") == [date(2026, 10, 10)]
    assert date(2026, 10, 10) in schedule.working_days
    assert schedule.day(date(2026, 10, 10))
    assert {t.date for t in schedule.tasks} == set(schedule.working_days)  # every vehicle day has work


def test_october_2026_meets_every_points_batch_quota() -> None:
    plan = load_example()
    schedule = generate(plan, "2026-10")
    assert schedule.shortfalls == ()
    for point in plan.points:
        assert schedule.quotas[point.code] == point.batches
        for category, n in point.batches.items():
            assert schedule.scheduled(point.code, category) == n


def test_october_2026_respects_the_vehicle() -> None:
    plan = load_example()
    schedule = generate(plan, "2026-10")
    for day in schedule.working_days:
        tasks = schedule.day(day)
        assert [t.route for t in tasks] == sorted(t.route for t in tasks)
        assert sum(t.samples for t in tasks) <= plan.vehicle.samples_per_day
        assert len(tasks) <= (plan.vehicle.points_per_day or len(tasks))
        for family in Family:
            assert sum(t.channels.get(family, 0) for t in tasks) <= plan.vehicle.channels_per_day[family]
    visits = {p.code: sum(1 for t in schedule.tasks if t.point == p.code) for p in plan.points}
    assert visits == {p.code: p.visits or plan.rule.visits for p in plan.points}
    assert not any(t.date.weekday() == 0 for t in schedule.tasks if t.point == "P05")  # closed on Mondays


def test_october_2026_output_is_identical_twice() -> None:
    first = generate(load_example(), "2026-10").to_json()
    assert first == generate(load_plan(example_plan_path()), "2026-10").to_json()
    script = "from schedules import generate, load_example; print(generate(load_example(), '2026-10').to_json())"
    outputs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True)
        outputs.append(run.stdout.strip())
    assert outputs == [first, first]


def test_example_points_agree_with_the_district_reference_data() -> None:
    reference = Path(__file__).resolve().parents[2] / "src" / "lims" / "reference" / "district.yaml"
    if not reference.exists():
        pytest.skip("LIMS reference data not in this tree")
    data = yaml.safe_load(reference.read_text(encoding="utf-8"))
    known = {p["code"]: (p["station"], p["area"]) for p in data.get("points", [])}
    plan = load_example()
    assert {p.code: (p.station, p.area.value) for p in plan.points} == {c: known[c] for c in POINTS}
    stations = {s["code"] for s in data.get("stations", [])}
    assert {p.station for p in plan.points} <= stations
