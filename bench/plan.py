"""Benchmark: province-scale plan generation (5,000 points, 20 items, 12 months) against a naive baseline.

Prints, for each plan size, the time to load the plan (parse and validate its YAML), to generate twelve
months of tasks, and their sum (the goal: under 5 s for 5,000 points), and the time of a naive
round-robin that puts each point's visits on evenly spaced working days with no capacity bookkeeping,
measured in the same run, with their ratio, and how the sum grows from the smallest size (linear: as the
size). The vehicle budget is the province's combined daily capacity, sized so that every quota fits.

    python bench/plan.py [--points 500 2000 5000] [--months 12] [--year 2026] [--repeat 1]
"""

from __future__ import annotations

import argparse
import math
import random
import time
from collections.abc import Callable
from functools import partial
from typing import Any, cast

import yaml

from schedules import Month, Plan, Schedule, generate, load_plan, vehicle_days

FAMILY_OF = {
    "OPC": "pesticide", "PYR": "pesticide", "CLB": "gold", "RAC": "gold", "SAL": "gold", "MG": "gold",
    "CAP": "gold", "NF": "gold", "AFB1": "gold", "ENR": "gold", "QNL": "gold", "ZEN": "gold",
    "HCHO": "spectro", "NO2": "spectro", "SO2": "spectro", "BORAX": "spectro", "RONG": "spectro",
    "H2O2": "spectro", "NO3": "spectro", "MET": "spectro",
}  # fmt: skip
CATEGORIES_OF = {
    "OPC": ["VEG_LEAF", "VEG", "FRUIT"], "PYR": ["VEG_LEAF", "FRUIT"], "CLB": ["PORK", "BEEF_MUTTON"],
    "RAC": ["PORK", "BEEF_MUTTON"], "SAL": ["PORK", "BEEF_MUTTON"], "MG": ["AQUATIC"], "CAP": ["AQUATIC"],
    "NF": ["AQUATIC"], "AFB1": ["MAIZE", "PEANUT", "RICE", "WHEAT"], "ENR": ["AQUATIC", "POULTRY"],
    "QNL": ["POULTRY"], "ZEN": ["MAIZE", "WHEAT"], "HCHO": ["AQUATIC", "TRIPE"],
    "NO2": ["CURED_MEAT", "PICKLES"], "SO2": ["DRIED_FRUIT", "MUSHROOM"], "BORAX": ["NOODLES"],
    "RONG": ["NOODLES"], "H2O2": ["TRIPE"], "NO3": ["VEG_LEAF"], "MET": ["WINE"],
}  # fmt: skip


def province_plan(points: int, seed: int = 20261001) -> dict[str, Any]:
    """A synthetic province plan as plain data: `points` points, 20 items, 19 food categories."""
    rng = random.Random(seed)
    categories = sorted({c for cats in CATEGORIES_OF.values() for c in cats})
    rows: list[dict[str, Any]] = []
    for i in range(points):
        sold = sorted(rng.sample(categories, rng.randint(4, 12)))
        rows.append(
            {
                "code": f"P{i:05d}",
                "station": f"ST{i // 10:04d}",
                "area": "rural" if i % 3 == 0 else "urban",
                "categories": sold,
                "batches": {c: rng.randint(0, 4) for c in sold},
                "visits": rng.choice([2, 2, 3, 4]),
                **({"blackout": [rng.choice(["MON", "FRI"])]} if i % 7 == 0 else {}),
            }
        )
    data: dict[str, Any] = {
        "name": f"Province plan, {points} points",
        "rule": {"visits": 2},
        "vehicle": {"samples_per_day": 1, "channels_per_day": {"pesticide": 1, "gold": 1, "spectro": 1}},
        "categories": {c: c for c in categories},
        "items": {code: {"family": FAMILY_OF[code], "categories": CATEGORIES_OF[code]} for code in FAMILY_OF},
        "points": rows,
    }
    per_family = {"samples": 0, "pesticide": 0, "gold": 0, "spectro": 0}
    for row in rows:
        batches: dict[str, int] = row["batches"]
        for cat, n in batches.items():
            per_family["samples"] += n
            for code, cats in CATEGORIES_OF.items():
                if cat in cats:
                    per_family[FAMILY_OF[code]] += n
    # Combined daily budget: the month's work over 15 days, with a quarter to spare.
    budget = {k: math.ceil(v / 15 * 1.25) + 20 for k, v in per_family.items()}
    data["vehicle"] = {
        "samples_per_day": budget.pop("samples"),
        "channels_per_day": budget,
    }
    return data


def round_robin(plan: Plan, month: Month) -> int:
    """Naive baseline: each point's visits on evenly spaced working days, quota split evenly, no capacity."""
    days = vehicle_days(plan, month)
    count = 0
    for point in plan.points:
        visits = point.visits or plan.rule.visits or len(days)
        tasks: list[tuple[Any, str, dict[str, int]]] = []
        for v in range(visits):
            batches = {c: n // visits + int(v < n % visits) for c, n in point.batches.items()}
            tasks.append((days[(v * len(days)) // visits], point.code, batches))
        count += len(tasks)
    return count


def timed(fn: Callable[[], object], repeat: int = 1) -> tuple[float, object]:
    """Best wall time of `repeat` runs, in seconds, and the last run's result."""
    best, result = math.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def generate_year(plan: Plan, months: list[Month]) -> list[Schedule]:
    """Generate every month of the run."""
    return [generate(plan, m) for m in months]


def round_robin_year(plan: Plan, months: list[Month]) -> int:
    """Baseline over every month of the run; returns the number of tasks."""
    return sum(round_robin(plan, m) for m in months)


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--points", type=int, nargs="+", default=[500, 2000, 5000])
    parser.add_argument("--months", type=int, default=12)
    parser.add_argument("--year", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=1, help="best of N generation runs per size")
    args = parser.parse_args()
    months = [Month(args.year, m) for m in range(1, args.months + 1)]
    warm = Plan.model_validate(province_plan(1))
    for month in months:  # fill the calendar cache so neither side pays for it
        vehicle_days(warm, month)

    print(f"plan generation: {args.months} months of {args.year}, 20 items, 19 food categories")
    print(
        f"{'points':>7} {'load s':>7} {'generate s':>11} {'total s':>8} {'s/month':>8} {'baseline s':>11} {'ratio':>6} "
        f"{'size x':>7} {'time x':>7} {'tasks':>8} {'shortfall':>9}"
    )
    first: tuple[int, float] | None = None
    for n in args.points:
        text = yaml.safe_dump(province_plan(n), allow_unicode=True, sort_keys=False)
        load_s, _ = timed(partial(load_plan, text))
        plan = load_plan(text)
        gen_s, result = timed(partial(generate_year, plan, months), repeat=args.repeat)
        base_s, _ = timed(partial(round_robin_year, plan, months), repeat=5)
        schedules = cast(list[Schedule], result)
        tasks = sum(len(s.tasks) for s in schedules)
        short = sum(f.batches for s in schedules for f in s.shortfalls)
        first = first or (n, load_s + gen_s)
        print(
            f"{n:>7} {load_s:>7.2f} {gen_s:>11.2f} {load_s + gen_s:>8.2f} {gen_s / len(months):>8.3f} {base_s:>11.3f} "
            f"{gen_s / base_s:>6.1f} {n / first[0]:>6.1f}x {(load_s + gen_s) / first[1]:>6.1f}x {tasks:>8} {short:>9}"
        )
    print(
        "load = parse and validate the plan YAML; total = load + generate; ratio = generate / naive round-robin "
        "(same run); size x and time x = growth of the total against the smallest plan"
    )


if __name__ == "__main__":
    main()
