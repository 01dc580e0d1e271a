"""Early-warning signals: for each point × food category × item, is the recent positive rate above its own past
and the rest of the district's, by more than chance on small numbers would give?

The food is the sample's food category (reference data, the unit limits are set for), not its product name:
product names are free text (小白菜, 上海青, 青菜 …) and would split one food into cells too small to test. The
product names of the window's positives are named with each signal and in the warning drafted from it.

The test, for each cell with enough tests (parameters in `data/signals.yaml`, with their reasons):

- x positives in n valid tests in the window (reviewed results, complaint-triggered urgent tests included and
  counted apart), against a reference: the cell's own history before the window, and the same category × item at
  the district's other points over history and window together.
- The reference rate is uncertain: Beta(a + positives, a + negatives) with Jeffreys' a = 0.5. Under "no change"
  the window's count is beta-binomial, and the p-value is its upper tail P(X ≥ x) (a posterior-predictive check,
  Box 1980). A reference with little data is wide, so nothing fires against it (no history never fires against
  the history); a zero rate over many tests is small but not zero.
- Many cells at once: Benjamini-Hochberg over every comparison made (two per cell tested), at a false discovery
  rate of 0.05; a signal also needs a minimum of positives in the window, so two positives in three tests never
  fire, however clean the reference.

Signals are ranked by strength, -log10 of the adjusted p-value, and each names the counts it rests on.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import cache
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import String, and_, case, cast, literal
from sqlmodel import Session, col, select

from lims import i18n
from lims.i18n import _N
from lims.models import District, FoodCategory, PublicWarning, Sample, SamplingPoint, TestItem, TestResult
from lims.models.cases import WarningDraftEdit, WarningState
from lims.models.common import JudgementOutcome, Role
from lims.models.plans import PlanTask
from lims.services.access.auth import require_role
from lims.services.cases import warnings
from lims.services.core import clock
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, NotFound
from lims.services.public import hotspots


@dataclass(frozen=True)
class Parameters:
    """The analysis' parameters, from `data/signals.yaml`."""

    window_days: int
    history_days: int
    min_tests: int
    min_positives: int
    false_discovery_rate: float
    prior: float


_BOUNDS: dict[str, tuple[float, float]] = {
    "window_days": (7, 92),
    "history_days": (28, 3 * 366),
    "min_tests": (2, 1000),
    "min_positives": (2, 1000),
    "false_discovery_rate": (0.001, 0.25),
    "prior": (0.01, 10.0),
}


def parameters_from(values: dict[str, Any]) -> Parameters:
    """Parameters from a mapping, each checked against its sane range (ValueError naming the one that is not)."""
    checked: dict[str, Any] = {}
    for name, (low, high) in _BOUNDS.items():
        value = values.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            raise ValueError(f"signals.yaml: {name} must be a number in {low}..{high}, got {value!r}")
        checked[name] = value if name in ("false_discovery_rate", "prior") else int(value)
    return Parameters(**checked)


@cache
def parameters() -> Parameters:
    """The shipped parameters."""
    text = resources.files("lims.services.analysis").joinpath("data/signals.yaml").read_text(encoding="utf-8")
    return parameters_from(yaml.safe_load(text))


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def upper_tail(x: int, n: int, a: float, b: float) -> float:
    """P(X ≥ x) for X beta-binomial with n trials and Beta(a, b) success rate."""
    if x <= 0:
        return 1.0
    if x > n:
        return 0.0
    base = math.lgamma(n + 1) - _log_beta(a, b)
    mode = (n * a) / (a + b)  # the terms fall away beyond the mean: stop once they no longer count

    def log_term(k: int) -> float:
        return base - math.lgamma(k + 1) - math.lgamma(n - k + 1) + _log_beta(k + a, n - k + b)

    if x < mode:  # a large tail: its complement has fewer terms and no cancellation worth fearing
        lower = sum(math.exp(log_term(k)) for k in range(0, x))
        return min(1.0, max(0.0, 1.0 - lower))
    first = log_term(x)
    total = 0.0
    for k in range(x, n + 1):
        term = log_term(k) - first
        if term < -50:
            break
        total += math.exp(term)
    return min(1.0, math.exp(first) * total)


def adjusted(p_values: list[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the order given."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    q = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        q[i] = min(1.0, running)
    return q


@dataclass(frozen=True)
class Count:
    """Valid tests and positives."""

    tested: int = 0
    positive: int = 0

    @property
    def rate(self) -> float:
        """Positives per valid test, 0 when nothing was tested."""
        return self.positive / self.tested if self.tested else 0.0

    def __add__(self, other: Count) -> Count:
        return Count(self.tested + other.tested, self.positive + other.positive)

    def __sub__(self, other: Count) -> Count:
        return Count(self.tested - other.tested, self.positive - other.positive)


@dataclass(frozen=True)
class Cell:
    """One point × food category × item: its counts, the two comparisons and whether it fires."""

    point: str
    point_zh: str
    point_en: str
    category: str
    category_zh: str
    category_en: str
    item: str
    item_zh: str
    item_en: str
    window: Count
    urgent: Count
    history: Count
    district: Count
    p_history: float = 1.0
    p_district: float = 1.0
    q_history: float = 1.0
    q_district: float = 1.0
    fires: bool = False
    products: tuple[tuple[str, int], ...] = ()

    @property
    def key(self) -> str:
        """The cell's identity in links and forms: point/category/item."""
        return f"{self.point}/{self.category}/{self.item}"

    @property
    def q(self) -> float:
        """The adjusted p-value of the stronger comparison."""
        return min(self.q_history, self.q_district)

    @property
    def strength(self) -> float:
        """-log10 of the adjusted p-value: 1.3 is the 0.05 line, each further unit ten times less likely by chance."""
        return -math.log10(max(self.q, 1e-300))

    @property
    def against(self) -> tuple[str, ...]:
        """Which references the window is above by more than chance: "district", "history" or both."""
        fdr = parameters().false_discovery_rate
        return tuple(name for name, q in (("district", self.q_district), ("history", self.q_history)) if q <= fdr)

    def numbers(self) -> dict[str, Any]:
        """The figures the signal rests on, as plain data (kept with a warning drafted from it)."""
        return {
            "point": self.point,
            "category": self.category,
            "item": self.item,
            "window": [self.window.positive, self.window.tested],
            "urgent": [self.urgent.positive, self.urgent.tested],
            "history": [self.history.positive, self.history.tested],
            "district": [self.district.positive, self.district.tested],
            "p_history": self.p_history,
            "p_district": self.p_district,
            "q_history": self.q_history,
            "q_district": self.q_district,
            "strength": round(self.strength, 3),
            "products": [list(p) for p in self.products],
        }


@dataclass(frozen=True)
class Analysis:
    """The signals of a district on a day, with what was examined."""

    window_from: date
    window_to: date
    history_from: date
    parameters: Parameters
    cells: int
    comparisons: int
    signals: list[Cell] = field(default_factory=list)


def evaluate(cells: list[Cell], p: Parameters) -> list[Cell]:
    """Every cell with its p-values, adjusted over every comparison made, and whether it fires; strongest first.

    A cell with fewer window tests than the minimum is not compared (its p-values stay 1) and never fires."""
    tested = [i for i, c in enumerate(cells) if c.window.tested >= p.min_tests]
    raw: list[float] = []
    for i in tested:
        raw.append(_p_value(cells[i].window, cells[i].history, p.prior))
        raw.append(_p_value(cells[i].window, cells[i].district, p.prior))
    q = adjusted(raw)
    done = list(cells)
    for j, i in enumerate(tested):
        p_h, p_d, q_h, q_d = raw[2 * j], raw[2 * j + 1], q[2 * j], q[2 * j + 1]
        fires = cells[i].window.positive >= p.min_positives and min(q_h, q_d) <= p.false_discovery_rate
        done[i] = replace(cells[i], p_history=p_h, p_district=p_d, q_history=q_h, q_district=q_d, fires=fires)
    return sorted(done, key=lambda c: (min(c.p_history, c.p_district), -c.window.rate, c.key))


def _p_value(window: Count, reference: Count, prior: float) -> float:
    return upper_tail(
        window.positive, window.tested, prior + reference.positive, prior + reference.tested - reference.positive
    )


def _window(session: Session, actor: Actor, p: Parameters) -> tuple[date, date, date]:
    today = clock.today_of(session, actor.district_id)
    first = today - timedelta(days=p.window_days - 1)
    return first, today, first - timedelta(days=p.history_days)


def _cells(session: Session, actor: Actor, p: Parameters) -> tuple[list[Cell], tuple[date, date, date]]:
    first, today, history_from = _window(session, actor, p)
    zone = clock.zone_of(session, actor.district_id)
    window_start = clock.day_bounds(first, zone)[0]
    start, end = clock.day_bounds(history_from, zone)[0], clock.day_bounds(today, zone)[1]
    period = case((col(TestResult.tested_at) >= window_start, literal("window")), else_=literal("history"))
    urgent = case((col(PlanTask.id).is_not(None), literal(1)), else_=literal(0))
    keys: tuple[Any, ...] = (
        col(SamplingPoint.code).label("point"),
        col(SamplingPoint.name).label("point_zh"),
        col(SamplingPoint.name_en).label("point_en"),
        col(FoodCategory.code).label("category"),
        col(FoodCategory.name_zh).label("category_zh"),
        col(FoodCategory.name_en).label("category_en"),
        col(TestItem.code).label("item"),
        col(TestItem.name_zh).label("item_zh"),
        col(TestItem.name_en).label("item_en"),
        col(TestResult.judgement).label("judgement"),
        period.label("period"),
        urgent.label("urgent"),
    )
    complaint_task = and_(
        col(PlanTask.kind) == "urgent",
        col(PlanTask.district_id) == col(Sample.district_id),
        literal("T") + cast(col(PlanTask.id), String) == col(Sample.task_ref),
    )
    statement = (
        hotspots.valid_tests(actor, *keys)
        .outerjoin(PlanTask, complaint_task)
        .where(col(TestResult.tested_at) >= start, col(TestResult.tested_at) < end)
    )
    counts: dict[tuple[str, str, str], dict[str, Count]] = defaultdict(lambda: defaultdict(Count))
    labels: dict[tuple[str, str, str], dict[str, str]] = {}
    totals: dict[tuple[str, str], Count] = defaultdict(Count)
    for row in session.execute(statement).all():
        r = row._mapping
        key = (str(r["point"]), str(r["category"]), str(r["item"]))
        found = Count(int(r["n"]), int(r["n"]) if r["judgement"] == JudgementOutcome.POSITIVE.value else 0)
        counts[key][str(r["period"])] += found
        if r["period"] == "window" and r["urgent"]:
            counts[key]["urgent"] += found
        totals[(key[1], key[2])] += found
        labels[key] = {name: str(r[name] or "") for name in keys_of_labels()}
    cells = []
    for key, by in counts.items():
        if not by["window"].tested:
            continue
        own = by["window"] + by["history"]
        names = labels[key]
        cells.append(
            Cell(
                point=key[0],
                point_zh=names["point_zh"],
                point_en=names["point_en"] or names["point_zh"],
                category=key[1],
                category_zh=names["category_zh"],
                category_en=names["category_en"],
                item=key[2],
                item_zh=names["item_zh"],
                item_en=names["item_en"],
                window=by["window"],
                urgent=by["urgent"],
                history=by["history"],
                district=totals[(key[1], key[2])] - own,
            )
        )
    return cells, (first, today, history_from)


def keys_of_labels() -> tuple[str, ...]:
    """The names a cell is shown with, as the counting query labels them."""
    return ("point_zh", "point_en", "category_zh", "category_en", "item_zh", "item_en")


def analyse(session: Session, actor: Actor, *, limit: int = 100) -> Analysis:
    """The district's signals today, strongest first: reviewers over reviewed results, stations over published ones."""
    require_role(actor, Role.REVIEWER, Role.STATION)
    p = parameters()
    cells, (first, today, history_from) = _cells(session, actor, p)
    ranked = evaluate(cells, p)
    fired = [c for c in ranked if c.fires][: max(1, min(limit, 500))]
    named = _with_products(session, actor, fired, first)
    comparisons = 2 * sum(1 for c in cells if c.window.tested >= p.min_tests)
    return Analysis(first, today, history_from, p, len(cells), comparisons, named)


def _with_products(session: Session, actor: Actor, fired: list[Cell], first: date) -> list[Cell]:
    """The signals with the product names of their window's positives, most frequent first."""
    if not fired:
        return []
    since = clock.day_bounds(first, clock.zone_of(session, actor.district_id))[0]
    wanted = {(c.point, c.category, c.item) for c in fired}
    statement = (
        hotspots.valid_tests(
            actor,
            col(SamplingPoint.code),
            col(FoodCategory.code),
            col(TestItem.code),
            col(Sample.product_name),
            col(TestResult.judgement),
        )
        .where(col(TestResult.tested_at) >= since)
        .where(col(TestResult.judgement) == JudgementOutcome.POSITIVE.value)
        .where(col(SamplingPoint.code).in_(sorted({c.point for c in fired})))
    )
    names: dict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
    for point, category, item, product, _judgement, n in session.execute(statement).all():
        if (point, category, item) in wanted:
            names[(point, category, item)][str(product)] += int(n)
    return [replace(c, products=tuple(names[(c.point, c.category, c.item)].most_common(5))) for c in fired]


def signal(session: Session, actor: Actor, point: str, category: str, item: str) -> Cell:
    """The signal of one cell today, or NotFound when that cell does not fire (any more)."""
    for found in analyse(session, actor, limit=500).signals:
        if (found.point, found.category, found.item) == (point, category, item):
            return found
    raise NotFound(
        "signals.no_signal",
        _N("no signal for {category} × {item} at point {point} today"),
        point=point,
        category=category,
        item=item,
    )


# What consumers are advised, by the instrument family of the item (what kind of finding it is).
ADVICE = {
    "pesticide": _N(
        "Soak vegetables and fruit in clean water and rinse them several times before eating; peeling or blanching "
        "also removes residues. Keep the receipt when buying."
    ),
    "gold": _N(
        "Buy meat, aquatic products and grain from regular sellers who keep purchase and inspection records, and "
        "keep the receipt; do not buy products of unclear origin."
    ),
    "spectro": _N(
        "Be wary of products that look unusually white, bright or fresh or smell of chemicals; buy from regular "
        "sellers and keep the receipt."
    ),
}


def draft_text(session: Session, actor: Actor, cell: Cell) -> WarningDraftEdit:
    """The draft's first wording (Chinese, for the reviewer to edit): product, finding, source, advice."""
    lang = i18n.DEFAULT_LANGUAGE
    district = session.get(District, actor.district_id)
    item = session.exec(select(TestItem).where(TestItem.code == cell.item)).first()
    product = "、".join(name for name, _ in cell.products[:3]) or cell.category_zh
    p = parameters()

    def pct(count: Count) -> str:
        return f"{count.rate:.0%}"

    finding = i18n.render(
        _N(
            "In the last {days} days, {positive} of {tested} quick tests of {category} at {point} were suspected "
            "positive for {item} ({rate}); the district's other points: {d_positive} of {d_tested} ({d_rate}); this "
            "point in the year before: {h_positive} of {h_tested} ({h_rate}). A quick test is a screening; "
            "positives are being confirmed."
        ),
        lang,
        {
            "days": p.window_days,
            "positive": cell.window.positive,
            "tested": cell.window.tested,
            "category": cell.category_zh,
            "point": cell.point_zh,
            "item": cell.item_zh,
            "rate": pct(cell.window),
            "d_positive": cell.district.positive,
            "d_tested": cell.district.tested,
            "d_rate": pct(cell.district),
            "h_positive": cell.history.positive,
            "h_tested": cell.history.tested,
            "h_rate": pct(cell.history),
        },
    )
    source = i18n.render(
        _N("Quick tests by the detection vehicle of {district} at sampling point {point} ({code})"),
        lang,
        {"district": district.name if district else "", "point": cell.point_zh, "code": cell.point},
    )
    if cell.urgent.tested:
        source += i18n.render(_N(", {urgent} of them after consumer complaints"), lang, {"urgent": cell.urgent.tested})
    title = i18n.render(
        _N("Consumption warning: suspected {item} in {product}"), lang, {"item": cell.item_zh, "product": product}
    )
    advice = i18n.render(ADVICE.get(item.family if item else "", ADVICE["gold"]), lang)
    return WarningDraftEdit(
        title_zh=title[:200],
        product=product[:200],
        finding=finding[:1000],
        source=source[:500],
        advice=advice[:1000],
        item_code=cell.item,
        category_code=cell.category,
        revision=1,
    )


def draft_warning(session: Session, actor: Actor, point: str, category: str, item: str) -> PublicWarning:
    """Turn a signal into a draft warning (reviewers): its wording prefilled, the signal's figures kept with it."""
    require_role(actor, Role.REVIEWER)
    cell = signal(session, actor, point, category, item)
    point_row = session.exec(
        select(SamplingPoint).where(SamplingPoint.district_id == actor.district_id, SamplingPoint.code == point)
    ).first()
    point_id = int(point_row.id or 0) if point_row else None
    existing = session.exec(
        select(PublicWarning).where(
            PublicWarning.district_id == actor.district_id,
            PublicWarning.state == WarningState.DRAFT,
            PublicWarning.point_id == point_id,
            PublicWarning.item_code == item,
            PublicWarning.category_code == category,
        )
    ).first()
    if existing is not None:
        raise Conflict(
            "signals.draft_exists",
            _N("this signal already has draft warning {warning_id}; edit that one"),
            warning_id=int(existing.id or 0),
        )
    return warnings.draft(session, actor, draft_text(session, actor, cell), point_id=point_id, signal=cell.numbers())


def plan_risk(session: Session, actor: Actor) -> dict[tuple[str, str], float]:
    """Today's firing signals as extra sampling risk per (point, item) for next month's plan: their strengths."""
    require_role(actor, Role.ADMIN, Role.REVIEWER)
    p = parameters()
    cells, _ = _cells(session, actor, p)
    risk: dict[tuple[str, str], float] = {}
    for cell in evaluate(cells, p):
        if cell.fires:
            risk[(cell.point, cell.item)] = risk.get((cell.point, cell.item), 0.0) + cell.strength
    return risk
