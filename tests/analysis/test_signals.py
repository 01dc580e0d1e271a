"""Early-warning signals: the statistics (against independent computations), acceptance 2 and the edge cases."""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from fractions import Fraction

import pytest
import time_machine
from sqlalchemy import text
from sqlmodel import Session

from lims.models.cases import PublicWarning
from lims.services.analysis import signals
from lims.services.analysis.signals import Cell, Count
from lims.services.core.errors import Forbidden
from tests.analysis.seeding import HISTORY, NOW, WINDOW, Batch, background, seed
from tests.web.helpers import actor_of


@pytest.fixture(autouse=True)
def _frozen() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


# The statistics, against computations that share no code with them.


def _beta_binomial_exact(x: int, n: int, a: int, b: int) -> Fraction:
    """P(X ≥ x) for integer a, b from the pmf C(n,k) B(k+a, n-k+b) / B(a,b), in exact fractions."""

    def beta(p: int, q: int) -> Fraction:  # B(p, q) = (p-1)!(q-1)!/(p+q-1)! for integers
        return Fraction(math.factorial(p - 1) * math.factorial(q - 1), math.factorial(p + q - 1))

    return sum((math.comb(n, k) * beta(k + a, n - k + b) / beta(a, b) for k in range(x, n + 1)), Fraction(0))


@pytest.mark.parametrize(
    ("x", "n", "a", "b"), [(3, 10, 1, 20), (1, 5, 2, 3), (7, 12, 1, 1), (0, 4, 3, 3), (20, 20, 1, 50)]
)
def test_upper_tail_matches_the_exact_sum(x: int, n: int, a: int, b: int) -> None:
    assert signals.upper_tail(x, n, a, b) == pytest.approx(
        float(_beta_binomial_exact(x, n, a, b)), rel=1e-9, abs=1e-300
    )


def test_upper_tail_tends_to_the_binomial_as_the_reference_grows() -> None:
    # Beta(a, b) with a/(a+b) = 0.05 and a + b huge is the rate 0.05 known exactly: the binomial tail.
    binomial = sum(math.comb(20, k) * 0.05**k * 0.95 ** (20 - k) for k in range(4, 21))
    assert signals.upper_tail(4, 20, 0.05e7, 0.95e7) == pytest.approx(binomial, rel=1e-4)
    assert signals.upper_tail(21, 20, 1, 1) == 0.0 and signals.upper_tail(0, 20, 1, 1) == 1.0


def test_benjamini_hochberg_against_the_textbook_example() -> None:
    # Benjamini & Hochberg (1995), section 4: 15 p-values; at q = 0.05 the four smallest are rejected.
    ps = [0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344, 0.0459, 0.3240, 0.4262, 0.5719, 0.6528]
    ps += [0.7590, 1.0000]
    q = signals.adjusted(ps)
    assert [i for i, v in enumerate(q) if v <= 0.05] == [0, 1, 2, 3]
    assert q[3] == pytest.approx(0.0095 * 15 / 4)
    assert signals.adjusted(list(reversed(ps))) == list(reversed(q))  # the order given is kept


def _cell(window: Count, history: Count, district: Count, point: str = "P01") -> Cell:
    return Cell(
        point, point, point, "VEG_LEAF", "叶菜", "Leafy", "OPC", "农残", "OPC", window, Count(), history, district
    )


def test_two_positives_in_three_tests_never_fire_however_clean_the_reference() -> None:
    p = signals.parameters()
    clean = Count(2000, 0)
    (cell,) = signals.evaluate([_cell(Count(3, 2), clean, clean)], p)
    assert not cell.fires and cell.window.tested < p.min_tests
    # with as many tests as the minimum, two positives are still too few to fire
    (cell,) = signals.evaluate([_cell(Count(p.min_tests, 2), clean, clean)], p)
    assert cell.q < 1e-3 and not cell.fires


def test_no_history_fires_only_against_the_district() -> None:
    p = signals.parameters()
    (alone,) = signals.evaluate([_cell(Count(20, 6), Count(), Count())], p)
    assert not alone.fires and alone.p_history > 0.1 and alone.p_district > 0.1  # nothing to compare with
    (new_point,) = signals.evaluate([_cell(Count(20, 6), Count(), Count(400, 8))], p)
    assert new_point.fires and new_point.against == ("district",)


def test_zero_district_rate_and_all_positives() -> None:
    p = signals.parameters()
    (one,) = signals.evaluate([_cell(Count(20, 1), Count(200, 0), Count(500, 0))], p)
    assert not one.fires  # a single positive is its own case, not a pattern
    (three,) = signals.evaluate([_cell(Count(20, 3), Count(200, 0), Count(500, 0))], p)
    assert three.fires and set(three.against) == {"district", "history"}
    (everything,) = signals.evaluate([_cell(Count(10, 10), Count(100, 2), Count(500, 10))], p)
    assert everything.fires and everything.q < 1e-10 and math.isfinite(everything.strength)
    (all_along,) = signals.evaluate([_cell(Count(10, 10), Count(100, 100), Count(500, 500))], p)
    assert not all_along.fires  # always positive everywhere: nothing has changed


def test_many_cells_at_the_same_rate_give_no_signal() -> None:
    # 200 cells drawn at one rate (no real difference anywhere): the unadjusted tests would list some by chance.
    rng = random.Random(14)
    p = signals.parameters()

    def draw(n: int) -> Count:
        return Count(n, sum(rng.random() < 0.08 for _ in range(n)))

    cells = [_cell(draw(20), draw(150), draw(1500), point=f"P{i:03d}") for i in range(200)]
    ranked = signals.evaluate(cells, p)
    assert sum(min(c.p_history, c.p_district) < 0.05 for c in ranked) > 0  # chance alone, unadjusted
    assert [c for c in ranked if c.fires] == []


def test_parameters_are_checked() -> None:
    good = {"window_days": 30, "history_days": 365, "min_tests": 8, "min_positives": 3}
    good |= {"false_discovery_rate": 0.05, "prior": 0.5}
    assert signals.parameters_from(good) == signals.parameters()
    for name, bad in (("min_positives", 0), ("window_days", "30"), ("false_discovery_rate", 0.9), ("prior", True)):
        with pytest.raises(ValueError, match=name):
            signals.parameters_from({**good, name: bad})


# Acceptance 2, on the real database: seeded histories, the district's signal list.


def test_the_point_whose_rate_rises_is_at_the_top(session: Session) -> None:
    batches = [b for b in background() if not (b.point == "P04" and b.days_ago == WINDOW)]
    batches += [
        Batch("P04", 24, 9, WINDOW, product="上海青"),  # the rise: 3 % before, 38 % now
        Batch("P04", 6, 2, WINDOW, urgent=True, product="上海青"),  # and two more after complaints
        Batch("P07", 3, 2, WINDOW, item="CLB", category="PORK", product="猪肉"),  # two of three: no signal
        Batch("P02", 12, 4, WINDOW, item="HCHO", category="TRIPE", product="牛百叶"),  # a smaller signal
        Batch("P02", 60, 1, HISTORY, item="HCHO", category="TRIPE", product="牛百叶"),
        Batch("P06", 80, 1, HISTORY, item="HCHO", category="TRIPE", product="牛百叶"),
        Batch("P03", 20, 10, WINDOW, status="tested"),  # not reviewed yet: not counted
    ]
    seed(session, batches)
    found = signals.analyse(session, actor_of(session, "reviewer"))
    assert [(s.point, s.item) for s in found.signals][:2] == [("P04", "OPC"), ("P02", "HCHO")]
    top = found.signals[0]
    assert (top.window.positive, top.window.tested) == (11, 30)
    assert (top.urgent.positive, top.urgent.tested) == (2, 6)
    assert (top.history.positive, top.history.tested) == (3, 100)
    assert (top.district.positive, top.district.tested) == (21, 770)  # 7 other points: 700 + 70 tests
    assert set(top.against) == {"district", "history"} and top.strength > found.signals[1].strength
    assert top.products == (("上海青", 11),)
    assert all(s.point != "P07" for s in found.signals) and all(s.point != "P03" for s in found.signals)
    assert (found.window_from.isoformat(), found.window_to.isoformat()) == ("2026-10-22", "2026-11-20")
    # the counts the signal rests on, cross-checked with plain SQL over the same rows
    sql = text(
        "SELECT COUNT(*), SUM(CASE WHEN r.judgement = 'positive' THEN 1 ELSE 0 END) FROM test_result r "
        "JOIN sample s ON s.id = r.sample_id JOIN sampling_point p ON p.id = s.point_id "
        "JOIN test_item i ON i.id = r.item_id WHERE p.code = 'P04' AND i.code = 'OPC' AND s.category_code = 'VEG_LEAF' "
        "AND r.status IN ('approved', 'published', 'archived') AND r.tested_at >= :since"
    )
    since = signals.clock.day_bounds(found.window_from, signals.clock.zone("Asia/Shanghai"))[0]
    tested, positive = session.execute(sql, {"since": since}).one()
    assert (int(tested), int(positive)) == (top.window.tested, top.window.positive)


def test_a_flat_history_gives_no_signal_and_stations_see_published_only(session: Session) -> None:
    seed(session, [*background(), Batch("P05", 3, 2, WINDOW)])
    reviewer = actor_of(session, "reviewer")
    assert signals.analyse(session, reviewer).signals == []
    seed(session, [Batch("P05", 20, 8, WINDOW)])
    assert [s.point for s in signals.analyse(session, reviewer).signals] == ["P05"]
    station = actor_of(session, "station")
    assert signals.analyse(session, station).signals == []  # approved, not yet published
    with pytest.raises(Forbidden):
        signals.analyse(session, actor_of(session, "tester"))
    with pytest.raises(Forbidden):
        signals.draft_warning(session, station, "P05", "VEG_LEAF", "OPC")


def test_a_signal_becomes_a_draft_that_names_its_figures(session: Session) -> None:
    seed(session, [*background(), Batch("P05", 20, 8, WINDOW, product="菠菜")])
    reviewer = actor_of(session, "reviewer")
    warning = signals.draft_warning(session, reviewer, "P05", "VEG_LEAF", "OPC")
    session.commit()
    row = session.get(PublicWarning, warning.id)
    assert row is not None and row.state == "draft" and row.published_at is None and row.sequence is None
    assert row.product == "菠菜" and "菠菜" in row.title_zh
    assert "30" in row.finding and "8" in row.finding and "检测车" in row.source and "12315" in row.body_zh
    assert row.signal is not None and row.signal["window"] == [8, 30] and row.signal["point"] == "P05"
