"""Spectrophotometric judgement: curve fitting, unit conversion, range, limits and banned items."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from lims.i18n import judgement_reason
from lims.judgement import (
    MIN_R_SQUARED,
    CalibrationCurve,
    ItemLimit,
    Judgement,
    Outcome,
    content_factor,
    fit_line,
    judge_spectro,
    normalise_unit,
)


def in_chinese(j: Judgement) -> str:
    """The judgement's reason as the Chinese review page shows it."""
    return judgement_reason(j.reason_code, j.reason_params, "zh")


# Standards on the exact line A = 0.5 × c + 0.01 (c in mg/L, i.e. µg/mL), 0 … 1.0 mg/L.
STANDARDS = [(0.0, 0.010), (0.2, 0.110), (0.4, 0.210), (0.6, 0.310), (0.8, 0.410), (1.0, 0.510)]
CURVE = CalibrationCurve(slope=0.5, intercept=0.01, min_conc=0.0, max_conc=1.0, conc_unit="mg/L")

NITRITE_CURED_MEAT = ItemLimit(
    limit=30.0,
    unit="mg/kg",
    banned=False,
    detection_limit=1.0,
    source="GB 2760-2024 表A.1 亚硝酸钠 腌腊肉制品类 08.02.02 残留量≤30 mg/kg（以亚硝酸钠计）",
)
FORMALDEHYDE = ItemLimit(
    limit=None,
    unit="mg/kg",
    banned=True,
    detection_limit=2.0,
    source="食品中可能违法添加的非食用物质名单（甲醛）",
)
SO2_DRIED_FRUIT = ItemLimit(
    limit=0.1,
    unit="g/kg",
    banned=False,
    detection_limit=0.001,
    source="GB 2760-2024 表A.1 二氧化硫 水果干类 04.01.02.02 0.1 g/kg（以二氧化硫残留量计）",
)


def _meat(absorbance: float, blank: float = 0.012, dilution: float = 1.0) -> Judgement:
    # 5.0 g of meat, extract made up to 200 mL
    return judge_spectro(
        absorbance=absorbance,
        blank=blank,
        curve=CURVE,
        dilution=dilution,
        sample_mass_g=5.0,
        extract_volume_ml=200.0,
        limit=NITRITE_CURED_MEAT,
    )


# --- calibration curve -------------------------------------------------------------------------------


def test_fit_of_exact_standards() -> None:
    curve = CalibrationCurve.from_standards(STANDARDS, "mg/L")
    assert curve.slope == pytest.approx(0.5)
    assert curve.intercept == pytest.approx(0.01)
    assert (curve.min_conc, curve.max_conc, curve.conc_unit) == (0.0, 1.0, "mg/L")
    _, _, r2 = fit_line(STANDARDS)
    assert r2 == pytest.approx(1.0)


def test_fit_matches_numpy_polyfit_on_real_looking_standards() -> None:
    # nitrite standards, 0 … 0.20 µg/mL, absorbances as read at 538 nm
    points = [
        (0.0, 0.003),
        (0.02, 0.041),
        (0.04, 0.079),
        (0.06, 0.121),
        (0.08, 0.158),
        (0.10, 0.197),
        (0.2, 0.391),
    ]
    curve = CalibrationCurve.from_standards(points, "µg/mL")
    x = np.array([p[0] for p in points])
    y = np.array([p[1] for p in points])
    slope, intercept = np.polyfit(x, y, 1)
    assert curve.slope == pytest.approx(float(slope), rel=1e-12)
    assert curve.intercept == pytest.approx(float(intercept), rel=1e-9, abs=1e-12)
    _, _, r2 = fit_line(points)
    assert r2 == pytest.approx(float(np.corrcoef(x, y)[0, 1] ** 2), rel=1e-12)
    assert r2 >= MIN_R_SQUARED


@given(
    st.lists(
        st.tuples(
            st.floats(min_value=0.0, max_value=100.0, allow_nan=False),
            st.floats(min_value=-1.0, max_value=3.0, allow_nan=False),
        ),
        min_size=2,
        max_size=12,
    )
)
def test_fit_line_agrees_with_numpy_polyfit(points: list[tuple[float, float]]) -> None:
    x = np.array([p[0] for p in points])
    y = np.array([p[1] for p in points])
    assume(float(np.ptp(x)) > 1e-3 and float(np.ptp(y)) > 1e-3)
    slope, intercept, _ = fit_line(points)
    np_slope, np_intercept = np.polyfit(x, y, 1)
    assert slope == pytest.approx(float(np_slope), rel=1e-6, abs=1e-9)
    assert intercept == pytest.approx(float(np_intercept), rel=1e-6, abs=1e-9)


def test_two_points_are_enough() -> None:
    curve = CalibrationCurve.from_standards([(0.1, 0.06), (1.0, 0.51)], "mg/L")
    # slope = (0.51 - 0.06) / (1.0 - 0.1) = 0.5; intercept = 0.06 - 0.5 × 0.1 = 0.01
    assert curve.slope == pytest.approx(0.5)
    assert curve.intercept == pytest.approx(0.01)
    assert curve.min_conc == 0.1


@pytest.mark.parametrize("points", [[], [(0.5, 0.26)]])
def test_fewer_than_two_standards_rejected(points: list[tuple[float, float]]) -> None:
    with pytest.raises(ValueError, match="at least 2"):
        CalibrationCurve.from_standards(points, "mg/L")


def test_poor_linearity_rejected() -> None:
    # one standard far off the line: r² ≈ 0.83 < 0.99
    points = [(0.0, 0.01), (0.2, 0.11), (0.4, 0.40), (0.6, 0.31), (0.8, 0.41), (1.0, 0.51)]
    _, _, r2 = fit_line(points)
    assert r2 < 0.99
    with pytest.raises(ValueError, match="r²"):
        CalibrationCurve.from_standards(points, "mg/L")


@pytest.mark.parametrize(
    ("points", "message"),
    [
        ([(0.5, 0.2), (0.5, 0.3)], "different concentrations"),
        ([(0.0, 0.2), (1.0, 0.2)], "same absorbance"),
        ([(0.0, 0.0), (math.nan, 0.5)], "finite"),
        ([(-0.1, 0.0), (1.0, 0.5)], "negative"),
    ],
)
def test_degenerate_standards_rejected(points: list[tuple[float, float]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        CalibrationCurve.from_standards(points, "mg/L")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"slope": 0.0},
        {"slope": math.nan},
        {"intercept": math.inf},
        {"min_conc": 1.0, "max_conc": 1.0},
        {"min_conc": -0.1},
        {"conc_unit": "mol/L"},
    ],
)
def test_curve_fields_are_checked(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "slope": 0.5,
        "intercept": 0.01,
        "min_conc": 0.0,
        "max_conc": 1.0,
        "conc_unit": "mg/L",
    }
    fields.update(kwargs)
    with pytest.raises(ValueError):
        CalibrationCurve(**fields)  # type: ignore[arg-type]


# --- unit table ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("solution", "content", "factor"),
    [
        ("mg/L", "mg/kg", 1.0),  # mg/L × mL / g = mg/kg
        ("µg/mL", "mg/kg", 1.0),  # µg/mL × mL / g = µg/g = mg/kg
        ("µg/mL", "g/kg", 0.001),
        ("mg/L", "µg/kg", 1000.0),
        ("µg/L", "µg/kg", 1.0),
        ("ng/mL", "µg/kg", 1.0),
        ("mg/mL", "g/kg", 1.0),
        ("g/L", "mg/kg", 1000.0),
    ],
)
def test_content_factor(solution: str, content: str, factor: float) -> None:
    assert content_factor(solution, content) == pytest.approx(factor)


def test_micro_spellings_are_the_same_unit() -> None:
    assert normalise_unit("μg/kg") == normalise_unit("ug/kg") == normalise_unit(" µg / kg ") == "µg/kg"
    assert content_factor("ug/mL", "μg/kg") == pytest.approx(1000.0)


def test_unknown_units_rejected() -> None:
    with pytest.raises(ValueError, match="solution"):
        content_factor("ppm", "mg/kg")
    with pytest.raises(ValueError, match="content"):
        content_factor("mg/L", "mg/L")


# --- item limits ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"unit": "mg/L"},
        {"limit": None},
        {"limit": -1.0},
        {"limit": math.nan},
        {"detection_limit": -0.1},
        {"source": "  "},
        {"banned": True, "detection_limit": 0.0},
    ],
)
def test_item_limit_fields_are_checked(kwargs: dict[str, object]) -> None:
    fields: dict[str, object] = {
        "limit": 30.0,
        "unit": "mg/kg",
        "banned": False,
        "detection_limit": 1.0,
        "source": "GB 2760-2024",
    }
    fields.update(kwargs)
    with pytest.raises(ValueError):
        ItemLimit(**fields)  # type: ignore[arg-type]


# --- judgement -----------------------------------------------------------------------------------------


def test_nitrite_within_limit() -> None:
    # net A = 0.262 - 0.012 = 0.250; c = (0.250 - 0.01) / 0.5 = 0.48 mg/L
    # content = 0.48 mg/L × 200 mL × 1 / 5.0 g = 19.2 mg/kg <= 30 → negative
    j = _meat(0.262)
    assert j.outcome is Outcome.NEGATIVE
    assert j.reason_code == "within_limit"
    assert j.value == pytest.approx(19.2)
    assert j.unit == "mg/kg"
    d = j.details
    assert d["net_absorbance"] == pytest.approx(0.25)
    assert d["solution_conc"] == pytest.approx(0.48)
    assert d["sample_conc"] == pytest.approx(19.2)
    assert d["source"] == NITRITE_CURED_MEAT.source
    assert "19.2 mg/kg" in j.reason and "30 mg/kg" in j.reason
    assert "19.2 mg/kg" in in_chinese(j)
    json.dumps(d, allow_nan=False, ensure_ascii=False)


def test_nitrite_above_limit() -> None:
    # net A = 0.412 - 0.012 = 0.400; c = (0.400 - 0.01) / 0.5 = 0.78 mg/L
    # content = 0.78 × 200 / 5.0 = 31.2 mg/kg > 30 → positive
    j = _meat(0.412)
    assert j.outcome is Outcome.POSITIVE
    assert j.reason_code == "above_limit"
    assert j.value == pytest.approx(31.2)
    assert "疑似阳性" in in_chinese(j)


def test_content_equal_to_limit_complies() -> None:
    # net A = 0.397 - 0.012 = 0.385; c = 0.375 / 0.5 = 0.75 mg/L; 0.75 × 200 / 5 = 30 mg/kg = limit → negative
    j = _meat(0.397)
    assert j.value == pytest.approx(30.0)
    assert j.outcome is Outcome.NEGATIVE
    assert j.reason_code == "within_limit"


def test_content_just_above_limit_is_positive() -> None:
    # net A = 0.3975 - 0.012 = 0.3855; c = 0.3755 / 0.5 = 0.751 mg/L; 0.751 × 40 = 30.04 mg/kg > 30
    j = _meat(0.3975)
    assert j.value == pytest.approx(30.04)
    assert j.outcome is Outcome.POSITIVE


def test_below_detection_limit_is_not_detected() -> None:
    # net A = 0.022 - 0.012 = 0.010; c = 0 mg/L (at the zero standard); content 0 < 1.0 mg/kg
    j = _meat(0.022)
    assert j.outcome is Outcome.NEGATIVE
    assert j.reason_code == "not_detected"
    assert j.value is None
    assert j.details["reporting_limit"] == 1.0
    assert "< 1 mg/kg" in j.reason


def test_below_calibrated_range_is_not_detected() -> None:
    # curve calibrated from 0.1 mg/L; net A = 0.040 → c = (0.040 - 0.01) / 0.5 = 0.06 mg/L < 0.1
    # reported as < max(DL 1.0, 0.1 × 200 / 5 = 4.0) = 4 mg/kg
    curve = CalibrationCurve(slope=0.5, intercept=0.01, min_conc=0.1, max_conc=1.0, conc_unit="mg/L")
    j = judge_spectro(
        absorbance=0.052,
        blank=0.012,
        curve=curve,
        dilution=1.0,
        sample_mass_g=5.0,
        extract_volume_ml=200.0,
        limit=NITRITE_CURED_MEAT,
    )
    assert j.outcome is Outcome.NEGATIVE
    assert j.reason_code == "not_detected"
    assert j.value is None
    assert j.details["solution_conc"] == pytest.approx(0.06)
    assert j.details["reporting_limit"] == pytest.approx(4.0)
    assert "lowest standard" in j.reason and "< 4 mg/kg" in j.reason


def test_reading_below_blank_is_not_detected() -> None:
    # net A = 0.005 - 0.012 = -0.007 → c = -0.034 mg/L, below the zero standard
    j = _meat(0.005)
    assert j.outcome is Outcome.NEGATIVE
    assert j.reason_code == "not_detected"


def test_above_range_asks_for_dilution_then_dilution_gives_the_result() -> None:
    # net A = 0.632 - 0.012 = 0.620; c = 0.61 / 0.5 = 1.22 mg/L > 1.0 → invalid, dilute and repeat
    j = _meat(0.632)
    assert j.outcome is Outcome.INVALID
    assert j.reason_code == "above_range_dilute"
    assert j.value is None
    assert "dilute" in j.reason and "稀释" in in_chinese(j)
    # diluted 5×: c = 1.22 / 5 = 0.244 mg/L → A_net = 0.5 × 0.244 + 0.01 = 0.132 → A = 0.144
    # content = 0.244 × 200 × 5 / 5.0 = 48.8 mg/kg > 30 → positive
    again = _meat(0.144, dilution=5.0)
    assert again.value == pytest.approx(48.8)
    assert again.outcome is Outcome.POSITIVE


def test_top_standard_is_in_range() -> None:
    # net A = 0.522 - 0.012 = 0.510 → c = 1.0 mg/L = highest standard → in range, 40 mg/kg
    j = _meat(0.522)
    assert j.outcome is Outcome.POSITIVE
    assert j.value == pytest.approx(40.0)


def _formaldehyde(absorbance: float) -> Judgement:
    # 10.0 g of aquatic product, 50 mL extract: content = c × 50 / 10 = 5 × c mg/kg
    return judge_spectro(
        absorbance=absorbance,
        blank=0.0,
        curve=CURVE,
        dilution=1.0,
        sample_mass_g=10.0,
        extract_volume_ml=50.0,
        limit=FORMALDEHYDE,
    )


def test_banned_at_detection_limit_is_positive() -> None:
    # A = 0.21 → c = (0.21 - 0.01) / 0.5 = 0.4 mg/L → 0.4 × 5 = 2.0 mg/kg = detection limit → positive
    j = _formaldehyde(0.21)
    assert j.outcome is Outcome.POSITIVE
    assert j.reason_code == "banned_detected"
    assert j.value == pytest.approx(2.0)
    assert "2 mg/kg" in j.reason and "不得" in in_chinese(j)


def test_banned_just_below_detection_limit_is_not_detected() -> None:
    # A = 0.20 → c = 0.19 / 0.5 = 0.38 mg/L → 1.9 mg/kg < 2.0 → not detected, negative
    j = _formaldehyde(0.20)
    assert j.outcome is Outcome.NEGATIVE
    assert j.reason_code == "not_detected"
    assert j.value is None


def test_banned_well_above_detection_limit_is_positive() -> None:
    # A = 0.46 → c = 0.45 / 0.5 = 0.9 mg/L → 4.5 mg/kg
    j = _formaldehyde(0.46)
    assert j.outcome is Outcome.POSITIVE
    assert j.value == pytest.approx(4.5)


def test_unit_conversion_to_g_per_kg() -> None:
    # SO2 in dried fruit, curve in µg/mL (Greek mu spelling): A_net = 0.250 → c = 0.48 µg/mL
    # content = 0.48 µg/mL × 100 mL × 2 / 2.0 g = 48 µg/g = 48 mg/kg = 0.048 g/kg <= 0.1 → negative
    curve = CalibrationCurve(slope=0.5, intercept=0.01, min_conc=0.0, max_conc=1.0, conc_unit="μg/mL")
    j = judge_spectro(
        absorbance=0.262,
        blank=0.012,
        curve=curve,
        dilution=2.0,
        sample_mass_g=2.0,
        extract_volume_ml=100.0,
        limit=SO2_DRIED_FRUIT,
    )
    assert j.outcome is Outcome.NEGATIVE
    assert j.value == pytest.approx(0.048)
    assert j.unit == "g/kg"
    assert j.details["unit_factor"] == pytest.approx(0.001)


def test_negative_slope_curve() -> None:
    # a fading method: A = -0.4 × c + 0.9; net A = 0.5 → c = (0.5 - 0.9) / -0.4 = 1.0 mg/L → 40 mg/kg
    curve = CalibrationCurve(slope=-0.4, intercept=0.9, min_conc=0.0, max_conc=2.0, conc_unit="mg/L")
    j = judge_spectro(
        absorbance=0.5,
        blank=0.0,
        curve=curve,
        dilution=1.0,
        sample_mass_g=5.0,
        extract_volume_ml=200.0,
        limit=NITRITE_CURED_MEAT,
    )
    assert j.value == pytest.approx(40.0)
    assert j.outcome is Outcome.POSITIVE


@pytest.mark.parametrize(("absorbance", "blank"), [(math.nan, 0.0), (0.3, math.nan), (math.inf, 0.0), (0.3, -math.inf)])
def test_non_finite_reading_is_invalid(absorbance: float, blank: float) -> None:
    j = judge_spectro(
        absorbance=absorbance,
        blank=blank,
        curve=CURVE,
        dilution=1.0,
        sample_mass_g=5.0,
        extract_volume_ml=200.0,
        limit=NITRITE_CURED_MEAT,
    )
    assert j.outcome is Outcome.INVALID
    assert j.reason_code == "non_finite_input"
    assert j.value is None
    json.dumps(j.details, allow_nan=False, ensure_ascii=False)


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("sample_mass_g", 0.0),
        ("sample_mass_g", -5.0),
        ("sample_mass_g", math.nan),
        ("dilution", 0.0),
        ("dilution", -1.0),
        ("dilution", math.inf),
        ("extract_volume_ml", 0.0),
    ],
)
def test_bad_mass_dilution_or_volume_raises(name: str, bad: float) -> None:
    kwargs = {"sample_mass_g": 5.0, "dilution": 1.0, "extract_volume_ml": 200.0, name: bad}
    with pytest.raises(ValueError, match=name):
        judge_spectro(absorbance=0.262, blank=0.012, curve=CURVE, limit=NITRITE_CURED_MEAT, **kwargs)


_in_range_absorbance = st.floats(min_value=0.02, max_value=0.5, allow_nan=False)
_positive = st.floats(min_value=0.01, max_value=1000.0, allow_nan=False)


@given(
    absorbance=_in_range_absorbance,
    dilution=_positive,
    k=st.floats(min_value=0.01, max_value=100.0, allow_nan=False),
    mass=_positive,
    volume=_positive,
)
def test_content_scales_linearly_with_dilution(
    absorbance: float, dilution: float, k: float, mass: float, volume: float
) -> None:
    def content(d: float) -> float:
        j = judge_spectro(
            absorbance=absorbance,
            blank=0.0,
            curve=CURVE,
            dilution=d,
            sample_mass_g=mass,
            extract_volume_ml=volume,
            limit=NITRITE_CURED_MEAT,
        )
        value = j.details["sample_conc"]
        assert isinstance(value, float)
        if j.value is not None:
            assert j.value == value
        return value

    assert content(dilution * k) == pytest.approx(k * content(dilution), rel=1e-9)
    # and it is c × V × d / m with c from the curve
    c = (absorbance - 0.01) / 0.5
    assert content(dilution) == pytest.approx(c * volume * dilution / mass, rel=1e-9)


@given(absorbance=st.floats(min_value=-0.1, max_value=2.0, allow_nan=False))  # the photometer's range
def test_outcome_is_consistent_with_value(absorbance: float) -> None:
    j = _meat(absorbance)
    raw = j.details["sample_conc"]
    assert isinstance(raw, float)
    if j.outcome is Outcome.POSITIVE:
        assert raw > 30.0
    if j.value is not None:
        assert j.value >= 1.0


def test_result_unit_uses_the_table_spelling() -> None:
    # limit written "ug/kg"; curve in ng/mL (ng/mL × mL / g = ng/g = µg/kg, factor 1)
    # A_net = 0.250 → c = 0.48 ng/mL → 0.48 × 200 / 5.0 = 19.2 µg/kg <= 20 → negative
    curve = CalibrationCurve(slope=0.5, intercept=0.01, min_conc=0.0, max_conc=1.0, conc_unit="ng/mL")
    limit = ItemLimit(limit=20.0, unit="ug/kg", banned=False, detection_limit=1.0, source="test limit")
    j = judge_spectro(
        absorbance=0.262,
        blank=0.012,
        curve=curve,
        dilution=1.0,
        sample_mass_g=5.0,
        extract_volume_ml=200.0,
        limit=limit,
    )
    assert j.unit == "µg/kg"
    assert j.value == pytest.approx(19.2)
    assert j.outcome is Outcome.NEGATIVE
