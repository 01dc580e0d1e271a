"""The plan file format: what loads, and error messages that name the field and the line."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from schedules import Area, BatchBasis, DateRange, Family, PlanError, Weekday, load_plan, parse_plan

MINIMAL = """\
name: Test plan
month: 2026-10
vehicle:
  samples_per_day: 10
  channels_per_day: {pesticide: 12, gold: 8, spectro: 6}
categories: {VEG: vegetables, PORK: pork}
items:
  OPC: {family: pesticide, categories: [VEG]}
  CLB: {family: gold, categories: [PORK]}
points:
  - code: P01
    station: ST00
    area: urban
    categories: [VEG, PORK]
    batches: {VEG: 4, PORK: 2}
"""


def _error(text: str, name: str = "plan.yaml") -> str:
    with pytest.raises(PlanError) as info:
        load_plan(text, name=name)
    return str(info.value)


def test_minimal_plan_loads_with_defaults() -> None:
    plan = load_plan(MINIMAL)
    assert plan.month == "2026-10"
    assert plan.rule.weekdays == [Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI]
    assert plan.rule.adjusted_workdays is True
    assert plan.rule.batches_per is BatchBasis.MONTH
    assert plan.response_minutes == {Area.URBAN: 20, Area.RURAL: 40}
    assert plan.vehicle.channels_per_day[Family.GOLD] == 8
    assert plan.category_items() == {"VEG": ("OPC",), "PORK": ("CLB",)}


def test_negative_batches_name_field_and_line() -> None:
    text = MINIMAL.replace("batches: {VEG: 4, PORK: 2}", "batches: {VEG: -1, PORK: 2}")
    assert _error(text) == "plan.yaml line 15: points[0].batches.VEG: must be >= 0"


def test_block_style_lines_point_at_the_key() -> None:
    text = MINIMAL.replace("    batches: {VEG: 4, PORK: 2}\n", "    batches:\n      VEG: 4\n      PORK: x\n")
    assert _error(text) == "plan.yaml line 17: points[0].batches.PORK: must be a whole number"


def test_missing_field_points_at_its_parent() -> None:
    text = MINIMAL.replace("    station: ST00\n", "")
    assert _error(text) == "plan.yaml line 11: points[0].station: is required"


def test_unknown_field_is_rejected() -> None:
    text = MINIMAL.replace("  samples_per_day: 10\n", "  samples_per_day: 10\n  colour: white\n")
    assert _error(text) == "plan.yaml line 5: vehicle.colour: unknown field"


def test_bad_area_lists_the_choices() -> None:
    text = MINIMAL.replace("area: urban", "area: suburb")
    assert _error(text) == "plan.yaml line 13: points[0].area: must be 'urban' or 'rural'"


def test_unknown_category_and_unsold_batches() -> None:
    text = MINIMAL.replace("categories: [VEG, PORK]\n", "categories: [VEG, BEEF]\n")
    assert _error(text).splitlines() == [
        "plan.yaml line 14: points[0].categories[1]: unknown food category 'BEEF'",
        "plan.yaml line 15: points[0].batches.PORK: category is not sold at this point",
    ]


def test_item_on_unknown_category() -> None:
    text = MINIMAL.replace("categories: [PORK]}", "categories: [PORC]}")
    assert "plan.yaml line 9: items.CLB.categories[0]: unknown food category 'PORC'" in _error(text)


def test_category_without_item_cannot_have_batches() -> None:
    text = MINIMAL.replace("  CLB: {family: gold, categories: [PORK]}\n", "")
    assert _error(text) == "plan.yaml line 14: points[0].batches.PORK: no test item covers this category"


def test_missing_channel_family_names_its_items() -> None:
    text = MINIMAL.replace("gold: 8, ", "")
    assert _error(text) == "plan.yaml line 5: vehicle.channels_per_day: missing gold (used by CLB)"


def test_duplicate_point_code() -> None:
    second = MINIMAL[MINIMAL.index("  - code: P01") :]
    assert _error(MINIMAL + second) == "plan.yaml line 16: points[1].code: duplicate point P01 (also points[0])"


def test_duplicate_key() -> None:
    text = MINIMAL.replace("  samples_per_day: 10\n", "  samples_per_day: 10\n  samples_per_day: 12\n")
    assert _error(text) == "plan.yaml line 5: vehicle.samples_per_day: duplicate key"


def test_bad_weekday_and_visits() -> None:
    text = MINIMAL.replace("month: 2026-10\n", "month: 2026-10\nrule:\n  weekdays: [TUE, THURS]\n  visits: 0\n")
    assert _error(text).splitlines() == [
        "plan.yaml line 4: rule.weekdays[1]: must be 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT' or 'SUN'",
        "plan.yaml line 5: rule.visits: must be >= 1",
    ]


def test_blackout_forms() -> None:
    text = MINIMAL.replace(
        "    area: urban\n", "    area: urban\n    blackout: [2026-10-15, '2026-10-20..2026-10-22', sat, MON]\n"
    )
    plan = load_plan(text)
    assert plan.points[0].blackout == [
        DateRange.model_validate({"start": "2026-10-15", "end": "2026-10-15"}),
        DateRange.model_validate({"start": "2026-10-20", "end": "2026-10-22"}),
        Weekday.SAT,
        Weekday.MON,
    ]
    assert plan.points[0].closed_on(date(2026, 10, 21))
    assert plan.points[0].closed_on(date(2026, 10, 19))  # a Monday
    assert not plan.points[0].closed_on(date(2026, 10, 23))


def test_bad_blackouts_each_reported() -> None:
    text = MINIMAL.replace(
        "    area: urban\n", "    area: urban\n    blackout:\n      - 2026-13-01\n      - '2026-10-22..2026-10-20'\n"
    )
    assert _error(text).splitlines() == [
        "plan.yaml line 15: points[0].blackout[0]: must be a date (YYYY-MM-DD), a range "
        "'YYYY-MM-DD..YYYY-MM-DD' or a weekday (MON..SUN)",
        "plan.yaml line 16: points[0].blackout[1]: range ends (2026-10-20) before it starts (2026-10-22)",
    ]


def test_month_format_and_calendar_range() -> None:
    for bad in ("October", "2026-10-01", "2026-13", "202610"):
        assert _error(MINIMAL.replace("month: 2026-10", f"month: {bad}")) == "plan.yaml line 2: month: must be YYYY-MM"
    message = _error(MINIMAL.replace("month: 2026-10", "month: 2099-01"))
    assert message.startswith("plan.yaml line 2: month: no statutory holiday data for 2099")


def test_yaml_syntax_error_has_a_line() -> None:
    text = MINIMAL.replace("categories: {VEG: vegetables, PORK: pork}", "categories: {VEG: vegetables, PORK: pork")
    assert _error(text).startswith("plan.yaml line 7: not valid YAML:")


def test_not_a_mapping_and_empty() -> None:
    assert _error("- a\n- b\n") == "plan.yaml line 1: a plan must be a mapping of fields"
    assert _error("") == "plan.yaml line 1: empty plan"


def test_file_errors_use_the_file_name(tmp_path: Path) -> None:
    path = tmp_path / "district.yaml"
    path.write_text(MINIMAL.replace("samples_per_day: 10", "samples_per_day: 0"), encoding="utf-8")
    with pytest.raises(PlanError) as info:
        load_plan(path)
    assert str(info.value) == "district.yaml line 4: vehicle.samples_per_day: must be >= 1"
    assert info.value.problems[0].line == 4
    assert info.value.problems[0].path == "vehicle.samples_per_day"
    with pytest.raises(PlanError, match="cannot read plan file"):
        load_plan(tmp_path / "missing.yaml")


def test_every_problem_is_reported_at_once() -> None:
    text = MINIMAL.replace("samples_per_day: 10", "samples_per_day: -5").replace("area: urban", "area: town")
    assert len(_error(text).splitlines()) == 2


def test_plain_data_plans_report_paths_without_lines() -> None:
    plan = load_plan(MINIMAL)
    assert parse_plan(plan.model_dump(mode="json")) == plan
    data = plan.model_dump(mode="json")
    data["points"][0]["batches"]["VEG"] = -2
    data["points"][0]["categories"] = ["VEG", "LAMB"]
    with pytest.raises(PlanError) as info:
        parse_plan(data, name="stored plan 7")
    assert str(info.value) == "stored plan 7: points[0].batches.VEG: must be >= 0"
    data["points"][0]["batches"]["VEG"] = 2
    with pytest.raises(PlanError) as info:
        parse_plan(data)
    assert str(info.value).splitlines() == [
        "points[0].categories[1]: unknown food category 'LAMB'",
        "points[0].batches.PORK: category is not sold at this point",
    ]


def test_digest_identifies_the_plan_content() -> None:
    plan = load_plan(MINIMAL)
    assert plan.digest() == load_plan(MINIMAL.replace("month: 2026-10", "month: '2026-10'")).digest()
    assert plan.digest() != load_plan(MINIMAL.replace("VEG: 4,", "VEG: 5,")).digest()
