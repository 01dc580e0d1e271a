"""Holiday arrangements added as data for a year chinese-calendar does not know yet."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from schedules import CalendarError, PlanError, generate, load_example, supported_years, working_days
from schedules import workdays as wd
from schedules.workdays import adjusted_workdays, is_statutory_holiday, statutory_holidays

NEXT = supported_years()[1] + 1  # the first year the installed package lacks

# An arrangement invented for the test (not an official one): a three-day New Year's holiday from
# 1 January and the Saturday of the second week worked in exchange.
TABLE = f"""
{NEXT}:
  notice: test arrangement
  holidays:
    - {{name: New Year's Day, from: {NEXT}-01-01, to: {NEXT}-01-03}}
  workdays: [{{saturday}}]
"""


def _second_saturday(year: int) -> date:
    day = date(year, 1, 8)
    while day.weekday() != 5:
        day = day.replace(day=day.day + 1)
    return day


@pytest.fixture
def table(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "holidays.yaml"
    path.write_text(TABLE.replace("{saturday}", _second_saturday(NEXT).isoformat()), encoding="utf-8")
    default = wd.HOLIDAYS_FILE
    wd.use_holiday_file(path)
    try:
        yield path
    finally:
        wd.use_holiday_file(default)


def test_without_data_the_next_year_is_refused_with_the_way_out() -> None:
    with pytest.raises(CalendarError, match=r"holidays\.yaml"):
        working_days(f"{NEXT}-01")


@pytest.mark.usefixtures("table")
def test_a_year_from_the_table_is_planned_like_any_other() -> None:
    assert supported_years()[1] == NEXT
    month = f"{NEXT}-01"
    days = working_days(month)
    assert not any(date(NEXT, 1, d) in days for d in (1, 2, 3))
    saturday = _second_saturday(NEXT)
    assert saturday in days and adjusted_workdays(month) == [saturday]
    assert statutory_holidays(month) == [date(NEXT, 1, d) for d in (1, 2, 3)]
    assert not is_statutory_holiday(date(NEXT, 1, 4))
    ordinary = [d for d in days if d != saturday]
    assert all(d.weekday() < 5 for d in ordinary)
    schedule = generate(load_example(), month)
    task_days = {t.date for t in schedule.tasks}
    assert task_days and not task_days & {date(NEXT, 1, d) for d in (1, 2, 3)}
    assert task_days <= set(days)


@pytest.mark.usefixtures("table")
def test_the_table_never_overrides_the_package() -> None:
    assert date(2026, 10, 1) not in working_days("2026-10")  # National Day, from chinese-calendar
    assert date(2026, 10, 10) in working_days("2026-10")


ONE_DAY = "2099:\n  holidays:\n    - {{name: X, from: 2099-01-{d}, to: 2099-01-{d}}}\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("2099:\n  holidays: []\n", "2099.holidays"),
        ("2099:\n  holidays:\n    - {name: X, from: 2099-01-05, to: 2099-01-02}\n", "before"),
        (f"{ONE_DAY.format(d='01')}  workdays: [2099-01-05]\n", "weekday"),
        (f"{ONE_DAY.format(d='03')}  workdays: [2099-01-03]\n", "also"),
        ("2099:\n  holiday: []\n", "2099.holiday"),
        ("- 2099\n", "mapping"),
    ],
)
def test_bad_tables_name_the_year_and_field(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "holidays.yaml"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(PlanError, match=message):
        wd.load_holiday_table(path)


def test_the_shipped_table_loads() -> None:
    shipped = wd.load_holiday_table(Path(wd.__file__).with_name("data") / "holidays.yaml")
    low, high = wd._package_years()
    assert not shipped.years & set(range(low, high + 1))  # a listed year only fills a gap
