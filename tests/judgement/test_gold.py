"""Colloidal gold card judgement: hand-computed cases, every boundary, and properties."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lims.i18n import judgement_reason
from lims.judgement import GoldKit, Outcome, judge_gold
from lims.judgement.outcome import Judgement


def in_chinese(j: Judgement) -> str:
    """The judgement's reason as the Chinese review page shows it."""
    return judgement_reason(j.reason_code, j.reason_params, "zh")


KIT = GoldKit(cutoff_tc=0.5, min_c_intensity=0.1)


def test_faint_t_line_is_positive() -> None:
    # T/C = 0.42 / 1.20 = 0.35 < 0.5 → positive (competitive format)
    j = judge_gold(t_intensity=0.42, c_intensity=1.20, kit=KIT)
    assert j.outcome is Outcome.POSITIVE
    assert j.reason_code == "tc_below_cutoff"
    assert j.value == pytest.approx(0.35)
    assert j.unit == "T/C"
    assert "0.35" in j.reason and "0.5" in j.reason
    assert "0.35" in in_chinese(j) and "疑似阳性" in judgement_reason(j.reason_code, j.reason_params, "zh")


def test_strong_t_line_is_negative() -> None:
    # T/C = 1.10 / 1.00 = 1.1 >= 0.5 → negative
    j = judge_gold(t_intensity=1.10, c_intensity=1.00, kit=KIT)
    assert j.outcome is Outcome.NEGATIVE
    assert j.reason_code == "tc_at_or_above_cutoff"
    assert j.value == pytest.approx(1.1)


def test_tc_exactly_at_cutoff_is_negative() -> None:
    # T/C = 0.5 / 1.0 = 0.5, not below 0.5 → negative
    j = judge_gold(t_intensity=0.5, c_intensity=1.0, kit=KIT)
    assert j.value == 0.5
    assert j.outcome is Outcome.NEGATIVE


def test_tc_at_cutoff_with_float_noise_is_negative() -> None:
    # 0.204 / 0.68 = 0.3 as read, 0.29999999999999993 in floating point; not below a 0.3 cut-off
    j = judge_gold(t_intensity=0.204, c_intensity=0.68, kit=GoldKit(cutoff_tc=0.3, min_c_intensity=0.1))
    assert j.value is not None and j.value < 0.3
    assert j.outcome is Outcome.NEGATIVE


def test_tc_just_below_cutoff_is_positive() -> None:
    # T/C = 0.499 / 1.0 = 0.499 < 0.5 → positive
    j = judge_gold(t_intensity=0.499, c_intensity=1.0, kit=KIT)
    assert j.outcome is Outcome.POSITIVE


def test_no_t_line_is_positive() -> None:
    # T/C = 0 / 0.9 = 0: all the antibody was taken up by the analyte
    j = judge_gold(t_intensity=0.0, c_intensity=0.9, kit=KIT)
    assert j.outcome is Outcome.POSITIVE
    assert j.value == 0.0


@pytest.mark.parametrize("c", [0.0, 0.05, 0.0999])
def test_missing_c_line_is_invalid(c: float) -> None:
    j = judge_gold(t_intensity=0.8, c_intensity=c, kit=KIT)
    assert j.outcome is Outcome.INVALID
    assert j.reason_code == "no_c_line"
    assert j.value is None
    assert j.details["tc_ratio"] is None
    assert "C line" in j.reason and "C 线" in in_chinese(j)


def test_c_line_exactly_at_minimum_counts() -> None:
    # C = 0.1 = minimum → valid; T/C = 0.02 / 0.1 = 0.2 < 0.5 → positive
    j = judge_gold(t_intensity=0.02, c_intensity=0.1, kit=KIT)
    assert j.outcome is Outcome.POSITIVE
    assert j.value == pytest.approx(0.2)


@pytest.mark.parametrize(("t", "c"), [(math.nan, 1.0), (0.5, math.nan), (math.inf, 1.0), (0.5, math.inf)])
def test_non_finite_intensity_is_invalid(t: float, c: float) -> None:
    j = judge_gold(t_intensity=t, c_intensity=c, kit=KIT)
    assert j.outcome is Outcome.INVALID
    assert j.reason_code == "non_finite_input"
    assert j.value is None


@pytest.mark.parametrize(("t", "c"), [(-0.1, 1.0), (0.5, -1.0)])
def test_negative_intensity_is_invalid(t: float, c: float) -> None:
    j = judge_gold(t_intensity=t, c_intensity=c, kit=KIT)
    assert j.outcome is Outcome.INVALID
    assert j.reason_code == "negative_intensity"


def test_overflowing_ratio_is_invalid_not_a_crash() -> None:
    j = judge_gold(t_intensity=1.7e308, c_intensity=0.1, kit=KIT)
    assert j.outcome is Outcome.INVALID
    assert j.reason_code == "non_finite_input"


@pytest.mark.parametrize(("cutoff", "min_c"), [(0.0, 0.1), (-1.0, 0.1), (math.nan, 0.1), (0.5, 0.0), (0.5, math.inf)])
def test_kit_parameters_are_checked(cutoff: float, min_c: float) -> None:
    with pytest.raises(ValueError):
        GoldKit(cutoff_tc=cutoff, min_c_intensity=min_c)


_intensity = st.floats(min_value=0.0, max_value=1e6, allow_nan=False)
_cutoff = st.floats(min_value=0.01, max_value=10.0, allow_nan=False)


@given(t=_intensity, c=_intensity, cutoff=_cutoff)
def test_never_positive_when_tc_at_or_above_cutoff(t: float, c: float, cutoff: float) -> None:
    kit = GoldKit(cutoff_tc=cutoff, min_c_intensity=0.1)
    j = judge_gold(t_intensity=t, c_intensity=c, kit=kit)
    if c >= 0.1 and t / c >= cutoff:
        assert j.outcome is Outcome.NEGATIVE
    if j.outcome is Outcome.POSITIVE:
        assert t / c < cutoff
    if c < 0.1:
        assert j.outcome is Outcome.INVALID
