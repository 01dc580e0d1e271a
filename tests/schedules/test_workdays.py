"""Working days from chinese-calendar: holidays off, adjusted working days on, clear errors past the data."""

from __future__ import annotations

from datetime import date

import pytest

from schedules import (
    CalendarError,
    Month,
    PlanError,
    adjusted_workdays,
    is_adjusted_workday,
    is_statutory_holiday,
    is_working_day,
    statutory_holidays,
    supported_years,
    working_days,
)


def test_national_day_2026_is_off_and_the_adjusted_saturday_is_on() -> None:
    days = working_days("2026-10")
    assert not any(date(2026, 10, d) in days for d in range(1, 8))
    assert date(2026, 10, 10) in days  # Saturday worked for National Day
    assert adjusted_workdays("2026-10") == [date(2026, 10, 10)]
    assert statutory_holidays("2026-10") == [date(2026, 10, d) for d in range(1, 8)]
    assert is_adjusted_workday(date(2026, 10, 10))
    assert not is_working_day(date(2026, 10, 11))  # an ordinary Sunday
    assert not is_statutory_holiday(date(2026, 10, 11))
    assert is_statutory_holiday(date(2026, 10, 1))
    assert len(days) == 18


def test_september_2026_adjusted_sunday() -> None:
    assert date(2026, 9, 20) in working_days("2026-09")
    assert date(2026, 9, 25) not in working_days("2026-09")  # Mid-Autumn Festival


def test_years_outside_the_calendar_data_are_refused_clearly() -> None:
    low, high = supported_years()
    assert low <= 2026 <= high
    with pytest.raises(CalendarError, match=r"no statutory holiday data for 2099: chinese-calendar .* knows"):
        working_days("2099-01")
    with pytest.raises(CalendarError, match="1999"):
        is_working_day(date(1999, 5, 1))


@pytest.mark.parametrize("text", ["2026-13", "2026/10", "26-10", ""])
def test_month_parsing_rejects_bad_text(text: str) -> None:
    with pytest.raises(PlanError, match="must be"):
        Month.parse(text)


def test_month_helpers() -> None:
    m = Month.parse("2026-12")
    assert (m.first, m.last, str(m.next())) == (date(2026, 12, 1), date(2026, 12, 31), "2027-01")
    assert Month.parse(date(2026, 2, 14)) == Month(2026, 2)
    assert len(Month(2024, 2).days()) == 29
    assert date(2026, 12, 5) in m and date(2027, 1, 1) not in m
