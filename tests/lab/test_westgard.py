"""The Westgard rules against textbook sequences (Westgard et al., Clin Chem 1981;27:493-501): mean 100, SD 5."""

from __future__ import annotations

import pytest

from lims.services.lab import westgard
from lims.services.lab.qc import parse_rules

MEAN, SD = 100.0, 5.0
ALL = tuple(westgard.RULES)


def broken(values: list[float], rules: tuple[str, ...] = ALL) -> set[str]:
    found = westgard.evaluate(values, MEAN, SD, warning=(), rejection=rules)
    return set(found.rejections)


def test_a_run_within_two_sd_breaks_nothing() -> None:
    assert broken([100, 104, 96, 109.9]) == set()


def test_1_2s_is_a_warning_and_the_run_passes() -> None:
    found = westgard.evaluate([100, 111], MEAN, SD)
    assert found.warnings == ("1-2s",)
    assert not found.rejected
    assert found.z == pytest.approx(2.2)


def test_1_3s_rejects_a_run_beyond_three_sd_either_side() -> None:
    assert "1-3s" in broken([100, 116])
    assert "1-3s" in broken([100, 84])
    assert "1-3s" not in broken([100, 114.9])


def test_2_2s_needs_two_runs_beyond_two_sd_on_the_same_side() -> None:
    assert "2-2s" in broken([111, 112])
    assert "2-2s" in broken([89, 88])
    assert "2-2s" not in broken([111, 89])  # opposite sides: that is R-4s
    assert "2-2s" not in broken([100, 111])


def test_r_4s_is_a_range_of_more_than_four_sd_across_the_mean() -> None:
    assert "R-4s" in broken([111, 89])
    assert "R-4s" not in broken([109, 91])  # 3.6 SD apart
    assert "R-4s" not in broken([116, 99])  # more than 4 SD, but not one beyond each 2 SD


def test_4_1s_and_10x_catch_a_shift() -> None:
    assert "4-1s" in broken([106, 106, 107, 106])
    assert "4-1s" not in broken([106, 106, 104, 106])
    assert "10x" in broken([101.0] * 10)
    assert "10x" not in broken([101.0] * 9 + [99.0])
    assert "10x" not in broken([101.0] * 9)


def test_the_configured_rules_only_are_applied() -> None:
    found = westgard.evaluate([106, 106, 107, 106], MEAN, SD, warning=("1-2s",), rejection=("1-3s", "2-2s"))
    assert not found.rejected and found.warnings == ()


def test_a_rejection_is_not_also_listed_as_a_warning() -> None:
    found = westgard.evaluate([100, 116], MEAN, SD, warning=("1-2s",), rejection=("1-3s",))
    assert found.rejections == ("1-3s",) and found.warnings == ()


def test_series_evaluates_every_run_with_its_history() -> None:
    series = westgard.evaluate_series([100, 111, 112, 100], MEAN, SD, rejection=("2-2s",))
    assert [e.rejected for e in series] == [False, False, True, False]
    assert [e.warnings for e in series] == [(), ("1-2s",), (), ()]


def test_baseline_is_the_mean_and_sample_sd() -> None:
    mean, sd = westgard.baseline([98.0, 100.0, 102.0]) or (0, 0)
    assert mean == pytest.approx(100.0) and sd == pytest.approx(2.0)
    assert westgard.baseline([100.0]) is None
    assert westgard.baseline([100.0, 100.0]) is None


def test_bad_figures_and_unknown_rules_are_refused() -> None:
    with pytest.raises(ValueError, match="sd must be"):
        westgard.evaluate([1.0], 1.0, 0.0)
    with pytest.raises(ValueError, match="unknown Westgard rule"):
        westgard.evaluate([1.0], 1.0, 1.0, rejection=("3-1s",))
    with pytest.raises(ValueError, match="unknown Westgard rule"):
        parse_rules({"westgard": {"rejection": ["13s"]}})
