"""The judgement rules of the legal path: impossible inhibitions, the photometer's range, kit lots per matrix,
GB/T 8170 rounding and the basis of expression (hand-computed cases)."""

from __future__ import annotations

import pytest

from lims.i18n import judgement_reason
from lims.judgement import (
    EnzymeMethod,
    JudgeContext,
    KitFigures,
    Outcome,
    enzyme,
    gold,
    judge_enzyme,
    judge_enzyme_deltas,
    spectro,
)
from lims.judgement.rounding import reported, round_gb8170
from lims.judgement.units import basis_factor
from lims.services.reference import judging

GB = EnzymeMethod()

# --- enzyme inhibition ----------------------------------------------------------------------------------


def test_sample_dA_below_zero_is_invalid_not_a_super_positive() -> None:
    # (0.50 - (-0.02)) / 0.50 × 100 = 104 %: more than all of the enzyme inhibited cannot happen
    j = judge_enzyme_deltas(control_dA=0.50, sample_dA=-0.02, method=GB)
    assert j.outcome is Outcome.INVALID and j.value is None
    assert j.reason_code == "inhibition_above_100"
    assert j.details["inhibition_pct"] == pytest.approx(104.0)
    assert "repeat" in j.reason and "-0.02" in j.reason
    assert "重" in judgement_reason(j.reason_code, j.reason_params, "zh")


def test_sample_dA_exactly_zero_is_full_inhibition_and_positive() -> None:
    j = judge_enzyme_deltas(control_dA=0.50, sample_dA=0.0, method=GB)
    assert j.outcome is Outcome.POSITIVE and j.value == 100.0


def test_absorbance_above_the_photometer_range_is_invalid() -> None:
    # the default range is 0 … 3 A: a control read 3.20 at 3 min is off the scale
    j = judge_enzyme(control_a0=0.20, control_a3=3.20, sample_a0=0.20, sample_a3=0.50, method=GB)
    assert j.outcome is Outcome.INVALID and j.reason_code == "absorbance_out_of_range"
    assert j.reason_params == {"values": "control_a3=3.2", "low": "0", "high": "3"}


def test_item_gives_its_own_absorbance_range() -> None:
    context = JudgeContext(item_code="OPC", method={"absorbance_range": [0.0, 2.0]}, limit=50.0)
    raw = enzyme.Absorbances(control_a0=0.30, control_a3=2.10, sample_a0=0.30, sample_a3=0.90)
    j = enzyme.judge_raw(raw, context)
    assert j.outcome is Outcome.INVALID and j.reason_code == "absorbance_out_of_range"
    # within 0 … 2: ΔA 1.80 and 0.60, inhibition (1.8 - 0.6) / 1.8 = 66.7 % → positive
    ok = enzyme.judge_raw(enzyme.Absorbances(control_a0=0.1, control_a3=1.9, sample_a0=0.1, sample_a3=0.7), context)
    assert ok.outcome is Outcome.POSITIVE and ok.value == pytest.approx(66.6667, abs=1e-4)


def test_a_dA_wider_than_the_range_is_invalid() -> None:
    j = judge_enzyme_deltas(control_dA=3.5, sample_dA=1.0, method=GB)
    assert j.outcome is Outcome.INVALID and j.reason_code == "absorbance_out_of_range"


def test_pesticide_details_name_the_detection_limit() -> None:
    context = JudgeContext(item_code="OPC", method={"detection_limit": 0.1, "detection_limit_unit": "mg/kg"}, limit=50)
    j = enzyme.judge_raw(enzyme.DeltaPair(control_dA=0.5, sample_dA=0.4), context)
    assert j.details["detection_limit"] == 0.1 and j.details["detection_limit_unit"] == "mg/kg"


# --- colloidal gold: the kit lot and the matrix ---------------------------------------------------------

AFB1_LOT = KitFigures(
    "AFB1-2609C",
    min_c_intensity=0.20,
    detection_limit_unit="µg/kg",
    matrices={
        "MAIZE": {"cutoff_tc": 0.60, "detection_limit": 5.0},
        "RICE": {"cutoff_tc": 0.72, "detection_limit": 2.5},
        "WHEAT": {"cutoff_tc": 0.85, "detection_limit": 1.5},
    },
)


def _afb1(category: str, kit: KitFigures | None = AFB1_LOT, **method: float) -> gold.Judgement:
    context = JudgeContext(item_code="AFB1", method=method, limit_unit="µg/kg", kit=kit, category_code=category)
    return gold.judge_raw(gold.Raw(t=0.70, c=1.00), context)


@pytest.mark.parametrize(
    ("matrix", "outcome", "cutoff", "detection_limit"),
    [
        ("MAIZE", Outcome.NEGATIVE, 0.60, 5.0),  # 0.70 ≥ 0.60: within maize's 20 µg/kg
        ("RICE", Outcome.POSITIVE, 0.72, 2.5),  # 0.70 < 0.72: above rice's 10 µg/kg
        ("WHEAT", Outcome.POSITIVE, 0.85, 1.5),  # 0.70 < 0.85: above wheat's 5 µg/kg
    ],
)
def test_the_same_tc_is_judged_by_the_matrix(
    matrix: str, outcome: Outcome, cutoff: float, detection_limit: float
) -> None:
    j = _afb1(matrix)
    assert j.outcome is outcome and j.value == pytest.approx(0.70)
    assert j.details["cutoff_tc"] == cutoff and j.details["matrix"] == matrix
    assert j.details["detection_limit"] == detection_limit and j.details["detection_limit_unit"] == "µg/kg"


def test_without_a_kit_lot_the_card_is_invalid_whatever_the_item_says() -> None:
    # the old items' default cut-off is no longer used
    j = _afb1("MAIZE", kit=None, default_cutoff_tc=0.9, default_min_c=0.2)
    assert j.outcome is Outcome.INVALID and j.reason_code == "no_kit_lot" and j.value is None
    assert "AFB1" in j.reason


def test_a_lot_without_figures_for_the_matrix_is_invalid_and_says_which() -> None:
    j = _afb1("PEANUT")
    assert j.outcome is Outcome.INVALID and j.reason_code == "kit_lot_no_matrix"
    assert j.reason_params == {"lot": "AFB1-2609C", "matrix": "PEANUT"}
    assert "AFB1-2609C" in j.reason and "PEANUT" in j.reason
    assert "AFB1-2609C" in judgement_reason(j.reason_code, j.reason_params, "zh")


def test_lot_wide_figures_apply_to_the_matrices_listed_without_their_own() -> None:
    lot = KitFigures("CLB-1", cutoff_tc=0.9, min_c_intensity=0.2, detection_limit=0.5, matrices={"PORK": {}})
    context = JudgeContext(item_code="CLB", kit=lot, category_code="PORK", limit_unit="µg/kg")
    j = gold.judge_raw(gold.Raw(t=0.85, c=1.0), context)  # 0.85 < 0.90
    assert j.outcome is Outcome.POSITIVE and j.details["detection_limit"] == 0.5
    other = gold.judge_raw(gold.Raw(t=0.85, c=1.0), JudgeContext(item_code="CLB", kit=lot, category_code="AQUATIC"))
    assert other.reason_code == "kit_lot_no_matrix"


def test_a_lot_listing_no_matrix_gives_one_cutoff_for_all() -> None:
    lot = KitFigures("CLB-OLD", cutoff_tc=0.9, min_c_intensity=0.2)
    j = gold.judge_raw(gold.Raw(t=1.0, c=1.0), JudgeContext(item_code="CLB", kit=lot, category_code="PORK"))
    assert j.outcome is Outcome.NEGATIVE


# --- rounding (GB/T 8170-2008 §3.2) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "kwargs", "text"),
    [
        (12.1498, {"decimals": 1}, "12.1"),  # dropped digit 4 < 5
        (1268.0, {"significant_figures": 2}, "1300"),  # dropped digit 6 > 5
        (10.5002, {"decimals": 0}, "11"),  # 5 followed by non-zero digits
        (1.050, {"decimals": 1}, "1.0"),  # exactly 5, kept digit 0 even → drop
        (0.35, {"decimals": 1}, "0.4"),  # exactly 5, kept digit 3 odd → raise
        (2500.0, {"significant_figures": 1}, "2000"),
        (3500.0, {"significant_figures": 1}, "4000"),
        (-0.0365, {"decimals": 3}, "-0.036"),  # negative: by its absolute value
        (8.53459, {"significant_figures": 3}, "8.53"),  # once, not 8.5346 → 8.535 → 8.54
        (28.175, {"decimals": 2}, "28.18"),
        (28.165, {"decimals": 2}, "28.16"),
        (9.995, {"significant_figures": 3}, "10.0"),
        (0.0, {"significant_figures": 3}, "0.00"),
    ],
)
def test_gb8170_rounding(x: float, kwargs: dict[str, int], text: str) -> None:
    assert round_gb8170(x, **kwargs) == text


def test_reported_needs_a_rule_and_a_value() -> None:
    assert reported(52.345, {}) is None
    assert reported(None, {"significant_figures": 3}) is None
    assert reported(52.345, {"significant_figures": 3}) == "52.3"
    assert reported(52.345, {"decimals": 1}) == "52.3"


def test_reported_value_is_rounded_while_the_value_stays_full() -> None:
    # inhibition (0.6 - 0.2985) / 0.6 × 100 = 50.25 %: reported 50.3 (3 s.f.; the float is 50.25000000000001)
    j = judge_enzyme_deltas(control_dA=0.6, sample_dA=0.2985, method=GB)
    shown = judging.with_reported(j, {"significant_figures": 3}, enzyme.VALUE_PARAM)
    assert shown.value == j.value and shown.details["reported_value"] == "50.3"
    assert shown.reason_params["inhibition"] == "50.3" and "50.3 %" in shown.reason
    assert judging.with_reported(j, {}, enzyme.VALUE_PARAM) is j


# --- basis of expression --------------------------------------------------------------------------------

NITRITE = {
    "extract_volume_ml": 100.0,
    "conc_unit": "mg/L",
    "detection_limit": 1.0,
    "standards": [[0.0, 0.010], [0.2, 0.110], [0.4, 0.210], [0.6, 0.310], [0.8, 0.410], [1.0, 0.510]],
    "expressed_as": "NaNO2",
    "measured_as": "NO2-",
    "significant_figures": 3,
}


def test_nitrite_measured_as_no2_is_expressed_as_nano2() -> None:
    assert basis_factor("NO2-", "NaNO2") == pytest.approx(69.00 / 46.01)
    assert basis_factor("NaNO2", "NaNO2") == 1.0 and basis_factor("", "") == 1.0
    # net 0.322 - 0.012 = 0.310 → c = (0.310 - 0.01) / 0.5 = 0.600 mg/L NO2⁻; 0.600 × 100 / 5.0 = 12.0 mg/kg NO2⁻
    # = 12.0 × 69.00 / 46.01 = 17.996 mg/kg as NaNO2
    context = JudgeContext(item_code="NO2", method=NITRITE, limit=18.0, limit_unit="mg/kg", limit_source="GB 2762")
    j = spectro.judge_raw(spectro.Raw(absorbance=0.322, blank=0.012, dilution=1.0, mass_g=5.0), context)
    assert j.value == pytest.approx(17.99609, abs=1e-5)
    assert j.details["expressed_as"] == "NaNO2" and j.details["measured_as"] == "NO2-"
    # compared in full: 17.996 ≤ 18.0 complies although it is reported as 18.0
    assert j.outcome is Outcome.NEGATIVE
    assert judging.with_reported(j, NITRITE, spectro.VALUE_PARAM).details["reported_value"] == "18.0"
    assert j.details["detection_limit"] == 1.0 and j.details["detection_limit_unit"] == "mg/kg"


def test_unknown_basis_is_refused() -> None:
    with pytest.raises(ValueError, match="basis"):
        basis_factor("NO3-", "NaNO2")


def test_spectro_absorbance_outside_range_is_invalid() -> None:
    context = JudgeContext(item_code="NO2", method=NITRITE, limit=20.0, limit_unit="mg/kg", limit_source="x")
    j = spectro.judge_raw(spectro.Raw(absorbance=3.4, blank=0.012, dilution=1.0, mass_g=5.0), context)
    assert j.outcome is Outcome.INVALID and j.reason_code == "absorbance_out_of_range"


# --- interfering vegetables -----------------------------------------------------------------------------


def test_interfering_species_is_found_in_the_product_name() -> None:
    method = {"interfering_species": ["葱", "蒜", "韭菜", "番茄"]}
    assert judging.interfering_species(method, "韭菜（散装）") == "韭菜"
    assert judging.interfering_species(method, "小白菜") is None
    assert judging.interfering_species({}, "韭菜") is None
