"""Enzyme inhibition judgement: hand-computed cases, every boundary, and properties."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lims.i18n import judgement_reason
from lims.judgement import (
    DEFAULT_ENZYME_METHOD,
    EnzymeMethod,
    Judgement,
    Outcome,
    judge_enzyme,
    judge_enzyme_deltas,
)


def in_chinese(j: Judgement) -> str:
    """The judgement's reason as the Chinese review page shows it."""
    return judgement_reason(j.reason_code, j.reason_params, "zh")


GB = EnzymeMethod()  # GB/T 5009.199-2003: positive at >= 50 %, control ΔA at least 0.3


def _json_safe(j: Judgement) -> None:
    json.dumps(j.details, allow_nan=False, ensure_ascii=False)


def test_defaults_are_the_figures_of_the_standard() -> None:
    assert EnzymeMethod(threshold_pct=50.0, min_control_dA=0.3) == DEFAULT_ENZYME_METHOD


def test_positive_from_absorbances() -> None:
    # control ΔA = 0.912 - 0.412 = 0.500; sample ΔA = 0.605 - 0.405 = 0.200
    # inhibition = (0.500 - 0.200) / 0.500 × 100 = 60 %  →  >= 50 % → positive
    j = judge_enzyme(control_a0=0.412, control_a3=0.912, sample_a0=0.405, sample_a3=0.605, method=GB)
    assert j.outcome is Outcome.POSITIVE
    assert j.reason_code == "inhibition_above_threshold"
    assert j.value == pytest.approx(60.0)
    assert j.unit == "%"
    assert j.details["control_dA"] == pytest.approx(0.5)
    assert j.details["sample_dA"] == pytest.approx(0.2)
    assert j.details["control_a0"] == 0.412
    assert j.details["sample_a3"] == 0.605
    assert "60 %" in j.reason and "50 %" in j.reason
    assert "60%" in in_chinese(j) and "疑似阳性" in judgement_reason(j.reason_code, j.reason_params, "zh")
    _json_safe(j)


def test_negative_below_threshold() -> None:
    # inhibition = (0.480 - 0.360) / 0.480 × 100 = 0.120 / 0.480 × 100 = 25 %  →  negative
    j = judge_enzyme_deltas(control_dA=0.480, sample_dA=0.360, method=GB)
    assert j.outcome is Outcome.NEGATIVE
    assert j.reason_code == "inhibition_below_threshold"
    assert j.value == pytest.approx(25.0)
    assert "25 %" in j.reason and "25%" in in_chinese(j)


def test_exactly_fifty_percent_is_positive() -> None:
    # (0.400 - 0.200) / 0.400 × 100 = 50 % exactly  →  ">= 50 %" → positive
    j = judge_enzyme_deltas(control_dA=0.4, sample_dA=0.2, method=GB)
    assert j.value == 50.0
    assert j.outcome is Outcome.POSITIVE


def test_fifty_percent_with_float_noise_is_still_positive() -> None:
    # control ΔA = 0.7 - 0.1 = 0.6, sample ΔA = 0.4 - 0.1 = 0.3: 50 % on paper,
    # 49.999999999999986 in binary floating point; the judgement must not flip.
    j = judge_enzyme(control_a0=0.1, control_a3=0.7, sample_a0=0.1, sample_a3=0.4, method=GB)
    assert j.value is not None and j.value < 50.0
    assert j.outcome is Outcome.POSITIVE
    assert "50 %" in j.reason


def test_just_below_fifty_percent_is_negative() -> None:
    # (0.400 - 0.2004) / 0.400 × 100 = 0.1996 / 0.4 × 100 = 49.9 %  →  negative
    j = judge_enzyme_deltas(control_dA=0.4, sample_dA=0.2004, method=GB)
    assert j.value == pytest.approx(49.9)
    assert j.outcome is Outcome.NEGATIVE


def test_control_dA_exactly_minimum_is_valid() -> None:
    # control ΔA = 0.300 is "0.3 以上" (0.3 or above): valid; (0.3 - 0.27) / 0.3 × 100 = 10 %
    j = judge_enzyme_deltas(control_dA=0.3, sample_dA=0.27, method=GB)
    assert j.outcome is Outcome.NEGATIVE
    assert j.value == pytest.approx(10.0)


def test_control_dA_exactly_minimum_from_absorbances_with_float_noise() -> None:
    # 0.7 - 0.4 = 0.29999999999999993 in floating point; it is 0.300 as read, so the run is valid.
    # sample ΔA = 0.55 - 0.40 = 0.15 → (0.3 - 0.15) / 0.3 × 100 = 50 % → positive
    j = judge_enzyme(control_a0=0.4, control_a3=0.7, sample_a0=0.40, sample_a3=0.55, method=GB)
    assert j.outcome is Outcome.POSITIVE
    assert j.value == pytest.approx(50.0)


def test_control_dA_just_below_minimum_is_invalid() -> None:
    # control ΔA = 0.299 < 0.3 → the enzyme reaction was too weak; no inhibition is computed
    j = judge_enzyme_deltas(control_dA=0.299, sample_dA=0.1, method=GB)
    assert j.outcome is Outcome.INVALID
    assert j.reason_code == "control_dA_too_small"
    assert j.value is None
    assert j.details["inhibition_pct"] is None
    assert "0.299" in j.reason and "0.3" in j.reason
    assert "0.299" in in_chinese(j)


def test_control_dA_zero_or_negative_is_invalid_without_dividing() -> None:
    for control in (0.0, -0.05):
        j = judge_enzyme_deltas(control_dA=control, sample_dA=0.2, method=GB)
        assert j.outcome is Outcome.INVALID
        assert j.reason_code == "control_dA_too_small"


def test_negative_inhibition_is_reported_and_judged_negative() -> None:
    # sample reacted faster: (0.400 - 0.460) / 0.400 × 100 = -0.060 / 0.4 × 100 = -15 %
    j = judge_enzyme_deltas(control_dA=0.400, sample_dA=0.460, method=GB)
    assert j.outcome is Outcome.NEGATIVE
    assert j.reason_code == "inhibition_negative"
    assert j.value == pytest.approx(-15.0)
    assert "-15 %" in j.reason and "-15%" in in_chinese(j)


def test_zero_inhibition_is_negative() -> None:
    # equal ΔA: (0.5 - 0.5) / 0.5 × 100 = 0 %
    j = judge_enzyme_deltas(control_dA=0.5, sample_dA=0.5, method=GB)
    assert j.outcome is Outcome.NEGATIVE
    assert j.reason_code == "inhibition_below_threshold"
    assert j.value == 0.0


def test_sample_dA_zero_is_full_inhibition() -> None:
    # (0.5 - 0) / 0.5 × 100 = 100 %
    j = judge_enzyme_deltas(control_dA=0.5, sample_dA=0.0, method=GB)
    assert j.outcome is Outcome.POSITIVE
    assert j.value == 100.0


@pytest.mark.parametrize(
    ("control", "sample"),
    [(math.nan, 0.2), (0.5, math.nan), (math.inf, 0.2), (0.5, -math.inf)],
)
def test_non_finite_deltas_are_invalid(control: float, sample: float) -> None:
    j = judge_enzyme_deltas(control_dA=control, sample_dA=sample, method=GB)
    assert j.outcome is Outcome.INVALID
    assert j.reason_code == "non_finite_input"
    assert j.value is None
    _json_safe(j)


def test_non_finite_absorbance_is_invalid_and_named() -> None:
    j = judge_enzyme(control_a0=0.4, control_a3=math.nan, sample_a0=0.4, sample_a3=0.6, method=GB)
    assert j.outcome is Outcome.INVALID
    assert j.reason_code == "non_finite_input"
    assert j.details["control_a3"] == "nan"
    assert "control_a3=nan" in j.reason
    _json_safe(j)


def test_overflowing_readings_are_invalid_not_a_crash() -> None:
    # a ΔA of -1.7e308 is far outside what a photometer reading 0…3 A can give: invalid, named as out of range
    j = judge_enzyme_deltas(control_dA=0.5, sample_dA=-1.7e308, method=GB)
    assert j.outcome is Outcome.INVALID
    assert j.reason_code == "absorbance_out_of_range"


def test_other_method_threshold() -> None:
    # a kit whose instructions put the threshold at 40 %: (0.5 - 0.275) / 0.5 × 100 = 45 % → positive
    j = judge_enzyme_deltas(control_dA=0.5, sample_dA=0.275, method=EnzymeMethod(threshold_pct=40.0))
    assert j.outcome is Outcome.POSITIVE
    assert j.value == pytest.approx(45.0)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"threshold_pct": 0.0},
        {"threshold_pct": 101.0},
        {"threshold_pct": math.nan},
        {"min_control_dA": 0.0},
        {"min_control_dA": -0.3},
        {"min_control_dA": math.inf},
    ],
)
def test_method_parameters_are_checked(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        EnzymeMethod(**kwargs)


_control = st.floats(min_value=0.3, max_value=3.0, allow_nan=False)
_sample = st.floats(min_value=0.0, max_value=3.0, allow_nan=False)  # below 0 the run is invalid (>100 %)


@given(control=_control, s1=_sample, s2=_sample)
def test_inhibition_is_monotone_in_sample_dA(control: float, s1: float, s2: float) -> None:
    low, high = sorted((s1, s2))
    a = judge_enzyme_deltas(control_dA=control, sample_dA=low, method=GB)
    b = judge_enzyme_deltas(control_dA=control, sample_dA=high, method=GB)
    assert a.value is not None and b.value is not None
    assert a.value >= b.value
    # a larger sample ΔA (less inhibition) can never turn a negative into a positive
    if b.outcome is Outcome.POSITIVE:
        assert a.outcome is Outcome.POSITIVE


@given(control=_control, sample=_sample)
def test_value_is_the_formula_and_outcome_follows_threshold(control: float, sample: float) -> None:
    j = judge_enzyme_deltas(control_dA=control, sample_dA=sample, method=GB)
    expected = (control - sample) / control * 100
    assert j.value == pytest.approx(expected)
    if expected >= 50.0 + 1e-6:
        assert j.outcome is Outcome.POSITIVE
    if expected <= 50.0 - 1e-6:
        assert j.outcome is Outcome.NEGATIVE
    _json_safe(j)
