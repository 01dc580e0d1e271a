"""Next month's plan weighted by risk: keep the fixed minimums (定批), spread the free capacity by recent risk.

The base is the district's current plan (its newest stored version for the month or before, else the shipped
plan, or a plan file). Its minimum batches per point and category stay; the vehicle's capacity above them, less
a reserve, goes to the point × category pairs with recent reviewed positives, complaints, consumer leads, long
gaps since the last sample, and any extra risk the caller brings (the hotspot signals), by the weights of the
risk model (`data/plan_risk.yaml`). The shares are apportioned by D'Hondt's highest averages, so a pair with
twice the risk gets about twice the extra batches, and the result is a pure function of the data and the day.
A suggestion is stored until the administrator accepts it as the month's next plan version.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

import schedules
from lims import i18n
from lims.i18n import _N
from lims.models import ConsumerLead, PlanTask, PlanVersion, Sample, SamplingPoint, TestItem, TestResult
from lims.models.common import JudgementOutcome, Role
from lims.models.plans import PlanSuggestion, PlanSuggestionPublic, SuggestionStatus
from lims.services.access.auth import require_role
from lims.services.core import atomic, audit, clock, visibility
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, Invalid, NotFound
from lims.services.samples import plans
from schedules import CalendarError, Month, Plan, PlanError
from schedules.generate import planned_visits

RISK_FILE = Path(__file__).with_name("data") / "plan_risk.yaml"
MONTHS_AHEAD = 12  # a plan is suggested for this month up to a year ahead

# Extra risk per (point code, item code), e.g. a hotspot signal's strength: the seam for the signal list.
ExtraRisk = Mapping[tuple[str, str], float]

REASONS: dict[str, str] = {
    "positives": _N("{count} positive samples ({items}) in the last {days} days"),
    "complaints": _N("{count} urgent complaint tests in the last {days} days"),
    "leads": _N("{count} consumer reports or complaints in the last {days} days"),
    "unvisited": _N("not sampled for {days} days"),
    "never": _N("not sampled in the last {days} days"),
    "signal": _N("hotspot signal of strength {strength}"),
    "quiet": _N("no recent risk: back to the fixed minimum"),
    "trimmed": _N("fewer than the risk asks: the vehicle's days cannot hold more"),
}
NOTES: dict[str, str] = {
    "no_free_capacity": _N(
        "no free capacity: the fixed minimums take all the vehicle can do in {month} (less the reserve); "
        "the plan keeps its minimums"
    ),
    "no_risk": _N("no recent risk found: the plan keeps its minimums"),
    "distributed": _N("{given} of {free} free batches go where the risk is"),
}


class Weights(BaseModel):
    """What one finding of each kind adds to a point × category's risk score."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    positive: float = Field(ge=0, le=100)
    complaint: float = Field(ge=0, le=100)
    lead: float = Field(ge=0, le=100)
    unvisited: float = Field(ge=0, le=100)
    signal: float = Field(ge=0, le=100)


class RiskModel(BaseModel):
    """The risk model: the look-back window, the reserve, the cap per category and the weights."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    source: str = Field(min_length=1)
    lookback_days: int = Field(ge=1, le=366)
    reserve_share: float = Field(ge=0, le=0.9)
    max_extra_per_category: int = Field(ge=0, le=1000)
    weights: Weights
    unvisited_days: int = Field(ge=1, le=366)


@cache
def risk_model(path: Path = RISK_FILE) -> RiskModel:
    """The risk model from its YAML file (Invalid naming the field when it does not hold)."""
    try:
        return RiskModel.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise Invalid(
            "plan_suggestions.risk_model", _N("risk model {path}: {problem}"), path=path.name, problem=exc
        ) from None


@dataclass
class CellRisk:
    """The recent findings for one point and food category."""

    positives: int = 0  # samples (batches) with a reviewed positive
    positive_items: set[str] = field(default_factory=set)
    complaints: float = 0.0
    leads: float = 0.0
    days_unvisited: int | None = None  # over the threshold only
    never: bool = False
    signal: float = 0.0

    def score(self, model: RiskModel) -> float:
        """The weighted sum of the findings."""
        w = model.weights
        gap = w.unvisited if (self.never or self.days_unvisited is not None) else 0.0
        return (
            w.positive * self.positives
            + w.complaint * self.complaints
            + w.lead * self.leads
            + gap
            + w.signal * self.signal
        )

    def reasons(self, model: RiskModel) -> list[dict[str, Any]]:
        """The findings as reason codes with their parameters (rendered in the reader's language)."""
        days = model.lookback_days
        found: list[dict[str, Any]] = []
        if self.positives:
            items = ", ".join(sorted(self.positive_items))
            found.append(_reason("positives", count=self.positives, items=items, days=days))
        if self.complaints:
            found.append(_reason("complaints", count=_figure(self.complaints), days=days))
        if self.leads:
            found.append(_reason("leads", count=_figure(self.leads), days=days))
        if self.never:
            found.append(_reason("never", days=model.unvisited_days))
        elif self.days_unvisited is not None:
            found.append(_reason("unvisited", days=self.days_unvisited))
        if self.signal:
            found.append(_reason("signal", strength=_figure(self.signal)))
        return found


def _figure(value: float) -> str:
    return f"{round(value, 1):g}"


def _reason(code: str, **params: Any) -> dict[str, Any]:
    return {"code": code, "params": params}


def reason_text(reason: Mapping[str, Any], lang: str) -> str:
    """A stored reason (or note) in `lang`."""
    code = str(reason.get("code", ""))
    message = REASONS.get(code) or NOTES.get(code) or code
    return i18n.render(message, lang, dict(reason.get("params") or {}))


Cell = tuple[str, str]  # (point code, category code)


@dataclass(frozen=True)
class Distribution:
    """A suggested plan with its changes against the base and the capacity figures it was cut from."""

    plan: Plan
    minimums: dict[str, dict[str, int]]
    changes: list[dict[str, Any]]
    capacity: dict[str, Any]


def _standing(plan: Plan) -> Plan:
    """The plan without a month of its own, with batches counted per month."""
    data = plan.model_dump(mode="json")
    data["month"] = None
    return schedules.parse_plan(data)


def monthly_minimums(plan: Plan, month: Month) -> dict[str, dict[str, int]]:
    """The plan's batches per point and category for the month (batches per visit multiplied out)."""
    return {code: dict(quota) for code, quota in schedules.quotas(_standing(plan), month).items()}


def _vehicle_days(plan: Plan, month: Month) -> list[date]:
    try:
        return schedules.vehicle_days(plan, month)
    except CalendarError:
        low, high = schedules.supported_years()
        raise Invalid(
            "plan_suggestions.calendar",
            _N("{month}: the holiday calendar knows the years {low}–{high} only"),
            month=str(month),
            low=low,
            high=high,
        ) from None


def distribute(
    plan: Plan,
    minimums: Mapping[str, Mapping[str, int]],
    risks: Mapping[Cell, CellRisk],
    month: Month,
    model: RiskModel,
    *,
    before: Mapping[str, Mapping[str, int]] | None = None,
) -> Distribution:
    """Keep `minimums`, spread the month's free capacity over the risky cells, check that the vehicle's days
    hold the result (trimming extras that do not fit), and list every change against `before` (default: the
    minimums) with its reasons."""
    standing = _standing(plan)
    days = _vehicle_days(standing, month)
    families = standing.families
    usage = standing.category_usage()
    cat_items = standing.category_items()
    keep = 1.0 - model.reserve_share
    vehicle = standing.vehicle
    limits = [math.floor(len(days) * vehicle.samples_per_day * keep)]
    limits += [math.floor(len(days) * vehicle.channels_per_day.get(f, 0) * keep) for f in families]

    def need(cat: str) -> list[int]:
        return [1, *(usage[cat][f] for f in families)]

    used = [0] * len(limits)
    mins: dict[str, dict[str, int]] = {}
    for point in standing.points:
        mins[point.code] = {c: int(n) for c, n in minimums.get(point.code, {}).items() if n > 0}
        for cat, n in mins[point.code].items():
            used = [u + k * n for u, k in zip(used, need(cat), strict=True)]
    free = [lim - u for lim, u in zip(limits, used, strict=True)]

    scores: dict[Cell, float] = {}
    order: dict[Cell, int] = {}
    point_room: dict[str, int] = {}
    for route, point in enumerate(standing.points):
        visits = planned_visits(standing, point, days)
        point_room[point.code] = visits * vehicle.samples_per_day - sum(mins[point.code].values())
        for rank, cat in enumerate(point.categories):
            if not cat_items.get(cat):
                continue
            order[(point.code, cat)] = route * 1000 + rank
            risk = risks.get((point.code, cat))
            if risk is not None and risk.score(model) > 0:
                scores[(point.code, cat)] = risk.score(model)

    extras = _apportion(scores, order, need, free, point_room, model.max_extra_per_category)
    trimmed = _fit(standing, month, mins, extras, order)
    suggested = _with_batches(standing, month, mins, extras)
    base = before if before is not None else mins
    changes: list[dict[str, Any]] = []
    for point in standing.points:
        for cat in sorted(set(base.get(point.code, {})) | set(mins[point.code]) | _cats(extras, point.code)):
            was = int(base.get(point.code, {}).get(cat, 0))
            minimum = mins[point.code].get(cat, 0)
            now = minimum + extras.get((point.code, cat), 0)
            if now == was:
                continue
            risk = risks.get((point.code, cat))
            reasons = risk.reasons(model) if risk is not None and now > minimum else []
            if now == minimum:
                reasons = [_reason("quiet")]
            if (point.code, cat) in trimmed:
                reasons.append(_reason("trimmed"))
            changes.append(
                {
                    "point": point.code,
                    "point_name": point.name,
                    "category": cat,
                    "category_name": standing.categories.get(cat, cat),
                    "minimum": minimum,
                    "before": was,
                    "after": now,
                    "score": round(scores.get((point.code, cat), 0.0), 3),
                    "reasons": reasons,
                }
            )
    given = sum(extras.values())
    if free[0] <= 0:
        note = _reason("no_free_capacity", month=str(month))
    elif not scores:
        note = _reason("no_risk")
    else:
        note = _reason("distributed", given=given, free=free[0])
    capacity = {
        "days": len(days),
        "samples_per_day": vehicle.samples_per_day,
        "capacity": len(days) * vehicle.samples_per_day,
        "reserve_share": model.reserve_share,
        "minimums": used[0],
        "free": max(free[0], 0),
        "given": given,
        "channels": {
            f: {"limit": limits[i + 1], "minimums": used[i + 1], "free": max(free[i + 1], 0)}
            for i, f in enumerate(families)
        },
        "note": note,
    }
    return Distribution(suggested, mins, changes, capacity)


def _cats(extras: Mapping[Cell, int], point: str) -> set[str]:
    return {c for (p, c), n in extras.items() if p == point and n}


def _apportion(
    scores: Mapping[Cell, float],
    order: Mapping[Cell, int],
    need: Any,
    free: list[int],
    point_room: dict[str, int],
    cap: int,
) -> dict[Cell, int]:
    """D'Hondt's highest averages: the next batch goes to the cell with the highest score / (batches given + 1)
    that still fits the free capacity in every dimension; ties go to the earlier point and category."""
    left = list(free)
    room = dict(point_room)
    given: dict[Cell, int] = defaultdict(int)
    heap = [(-score, order[cell], cell) for cell, score in scores.items()]
    heapq.heapify(heap)
    while heap and left[0] > 0:
        _, rank, cell = heapq.heappop(heap)
        cost = need(cell[1])
        if given[cell] >= cap or room[cell[0]] < 1 or any(c > f for c, f in zip(cost, left, strict=True)):
            continue  # this cell can take no more; the others may
        given[cell] += 1
        room[cell[0]] -= 1
        left = [f - c for f, c in zip(left, cost, strict=True)]
        heapq.heappush(heap, (-scores[cell] / (given[cell] + 1), rank, cell))
    return {cell: n for cell, n in given.items() if n}


def _with_batches(plan: Plan, month: Month, mins: Mapping[str, Mapping[str, int]], extras: Mapping[Cell, int]) -> Plan:
    data = plan.model_dump(mode="json")
    data["month"] = str(month)
    data["rule"]["batches_per"] = "month"
    for point in data["points"]:
        batches = {c: n for c, n in mins.get(point["code"], {}).items()}
        for (code, cat), n in extras.items():
            if code == point["code"]:
                batches[cat] = batches.get(cat, 0) + n
        point["batches"] = {c: batches[c] for c in plan.categories if batches.get(c)}
    return schedules.parse_plan(data)


def _shortfalls(plan: Plan, month: Month) -> dict[Cell, int]:
    found: dict[Cell, int] = {}
    for short in schedules.generate(plan, month).shortfalls:
        key = (short.point, short.category)
        found[key] = max(found.get(key, 0), short.batches)
    return found


def _fit(
    plan: Plan,
    month: Month,
    mins: Mapping[str, Mapping[str, int]],
    extras: dict[Cell, int],
    order: Mapping[Cell, int],
) -> set[Cell]:
    """Take back extra batches the vehicle's days cannot hold (shortfalls the minimums alone do not have), from
    the short cell itself, else from its point's other extras, else from the last cell given any; in place."""
    baseline = _shortfalls(_with_batches(plan, month, mins, {}), month)
    trimmed: set[Cell] = set()
    for _ in range(50):
        if not extras:
            break
        short = _shortfalls(_with_batches(plan, month, mins, extras), month)
        excess = {cell: n - baseline.get(cell, 0) for cell, n in short.items() if n > baseline.get(cell, 0)}
        if not excess:
            break
        for cell, n in sorted(excess.items(), key=lambda kv: order.get(kv[0], 0)):
            candidates = [cell] if extras.get(cell) else []
            candidates += sorted((c for c in extras if c[0] == cell[0] and c != cell), key=lambda c: -order[c])
            candidates += sorted(extras, key=lambda c: -order[c])
            while n > 0 and candidates:
                victim = candidates[0]
                if extras.get(victim, 0) <= 0:
                    candidates.pop(0)
                    continue
                take = min(n, extras[victim])
                extras[victim] -= take
                trimmed.add(victim)
                n -= take
                if not extras[victim]:
                    del extras[victim]
    return trimmed


# --------------------------------------------------------------------------- risk from the database


def _window(today: date, days: int, tz: Any) -> tuple[datetime, datetime]:
    start, _ = clock.day_bounds(today - timedelta(days=days - 1), tz)
    return start, clock.day_bounds(today, tz)[1]


def gather_risk(
    session: Session, district_id: int, plan: Plan, today: date, model: RiskModel, extra: ExtraRisk | None = None
) -> dict[Cell, CellRisk]:
    """The district's recent findings per point and category of the plan, up to `today` (the local date)."""
    tz = clock.zone_of(session, district_id)
    start, end = _window(today, model.lookback_days, tz)
    rows = session.exec(select(SamplingPoint).where(SamplingPoint.district_id == district_id)).all()
    codes = {int(p.id or 0): p.code for p in rows}
    planned = {(p.code, c) for p in plan.points for c in p.categories}
    risks: dict[Cell, CellRisk] = defaultdict(CellRisk)

    # A batch found positive counts once, however many of its items were positive (an aquatic batch runs six).
    positives = session.execute(
        select(col(Sample.point_id), col(Sample.category_code), col(Sample.id), col(TestItem.code))
        .select_from(TestResult)
        .join(Sample, col(Sample.id) == col(TestResult.sample_id))
        .join(TestItem, col(TestItem.id) == col(TestResult.item_id))
        .where(
            col(TestResult.district_id) == district_id,
            col(TestResult.judgement) == JudgementOutcome.POSITIVE.value,
            col(TestResult.repeat_of_id).is_(None),
            visibility.reviewed_only(),
            col(TestResult.tested_at) >= start,
            col(TestResult.tested_at) < end,
        )
        .distinct()
    ).all()
    samples: dict[Cell, set[int]] = defaultdict(set)
    for point_id, category, sample_id, item in positives:
        cell = (codes.get(point_id, ""), str(category))
        if cell in planned:
            samples[cell].add(int(sample_id))
            risks[cell].positive_items.add(str(item))
    for cell, found in samples.items():
        risks[cell].positives = len(found)

    tested = plan.category_items()
    point_cats = {p.code: [c for c in p.categories if tested.get(c) and p.batches.get(c)] for p in plan.points}
    urgent = session.exec(
        select(PlanTask).where(
            PlanTask.district_id == district_id,
            PlanTask.kind == "urgent",
            col(PlanTask.received_at) >= start,
            col(PlanTask.received_at) < end,
        )
    ).all()
    for task in urgent:
        point = codes.get(task.point_id, "")
        cats = [c for c in task.batches if (point, c) in planned]
        if cats:
            for cat in cats:
                risks[(point, cat)].complaints += 1.0
        else:  # a complaint without a category: every category the plan tests at the point, at half weight
            for cat in point_cats.get(point, []):
                risks[(point, cat)].complaints += 0.5

    _lead_risk(session, district_id, start, end, codes, planned, risks)
    _gap_risk(session, district_id, today, tz, model, codes, planned, risks)
    for (point, item), strength in sorted((extra or {}).items()):
        if not (math.isfinite(strength) and strength > 0) or item not in plan.items:
            continue
        cats = [c for c in plan.items[item].categories if (point, c) in planned]
        for cat in cats:
            risks[(point, cat)].signal += min(strength, 100.0) / len(cats)
    return dict(risks)


def _lead_risk(
    session: Session,
    district_id: int,
    start: datetime,
    end: datetime,
    codes: Mapping[int, str],
    planned: set[Cell],
    risks: dict[Cell, CellRisk],
) -> None:
    leads = session.exec(
        select(ConsumerLead).where(
            ConsumerLead.district_id == district_id,
            col(ConsumerLead.received_at) >= start,
            col(ConsumerLead.received_at) < end,
        )
    ).all()
    for lead in leads:
        cells: list[Cell] = []
        if lead.sample_label_id:
            sample = session.exec(
                select(Sample).where(Sample.label_id == lead.sample_label_id, Sample.district_id == district_id)
            ).first()
            if sample is not None:
                cells = [(codes.get(sample.point_id, ""), sample.category_code)]
        elif lead.gtin:
            rows = session.execute(
                select(col(Sample.point_id), col(Sample.category_code))
                .where(
                    col(Sample.district_id) == district_id,
                    col(Sample.gtin) == lead.gtin,
                    col(Sample.collected_at) >= start,
                    col(Sample.collected_at) < end,
                )
                .distinct()
            ).all()
            cells = sorted({(codes.get(p, ""), str(c)) for p, c in rows})
        cells = [c for c in cells if c in planned]
        for cell in cells:
            risks[cell].leads += 1.0 / len(cells)


def _gap_risk(
    session: Session,
    district_id: int,
    today: date,
    tz: Any,
    model: RiskModel,
    codes: Mapping[int, str],
    planned: set[Cell],
    risks: dict[Cell, CellRisk],
) -> None:
    earliest = select(func.min(col(Sample.collected_at))).where(col(Sample.district_id) == district_id)
    first = session.execute(earliest).scalar()
    if first is None:
        return  # no history at all: nothing has been missed yet
    history_days = (today - clock.local_date(first, tz)).days
    last: dict[Cell, date] = {}
    for point_id, category, moment in session.execute(
        select(col(Sample.point_id), col(Sample.category_code), func.max(col(Sample.collected_at)))
        .where(col(Sample.district_id) == district_id)
        .group_by(col(Sample.point_id), col(Sample.category_code))
    ).all():
        last[(codes.get(point_id, ""), str(category))] = clock.local_date(moment, tz)
    for cell in sorted(planned):
        seen = last.get(cell)
        if seen is None:
            if history_days >= model.unvisited_days:
                risks[cell].never = True
        elif (today - seen).days >= model.unvisited_days:
            risks[cell].days_unvisited = (today - seen).days


# --------------------------------------------------------------------------- suggestions and acceptance


def target_month(text: str, today: date) -> Month:
    """The month asked for: `YYYY-MM`, from the district's current month to a year ahead, else Invalid."""
    try:
        month = Month.parse(text)
    except PlanError:
        raise Invalid("plan_suggestions.month", _N("{text!r} is not a month (YYYY-MM)"), text=str(text)[:20]) from None
    first = Month(today.year, today.month)
    last = first
    for _ in range(MONTHS_AHEAD):
        last = last.next()
    if not first <= month <= last:
        raise Invalid(
            "plan_suggestions.month_range",
            _N("a plan can be suggested for {first} to {last}, not {month}"),
            first=str(first),
            last=str(last),
            month=str(month),
        )
    low, high = schedules.supported_years()
    if not low <= month.year <= high:
        raise Invalid(
            "plan_suggestions.calendar",
            _N(
                "{month}: the holiday calendar knows the years {low}–{high} only; add the State Council's "
                "arrangement for {year} to schedules/data/holidays.yaml"
            ),
            month=str(month),
            low=low,
            high=high,
            year=month.year,
        )
    return month


def _base_version(session: Session, district_id: int, month: Month) -> PlanVersion | None:
    """The current plan for `month`: the newest version of that month or, failing that, of the latest before."""
    return session.exec(
        select(PlanVersion)
        .where(PlanVersion.district_id == district_id, col(PlanVersion.month) <= str(month))
        .order_by(col(PlanVersion.month).desc(), col(PlanVersion.number).desc())
    ).first()


def _minimums_of(session: Session, version: PlanVersion, plan: Plan, month: Month) -> dict[str, dict[str, int]]:
    """The fixed minimums behind a stored version: those of the suggestion it was accepted from, else its batches."""
    accepted = session.exec(select(PlanSuggestion).where(PlanSuggestion.accepted_version_id == version.id)).first()
    if accepted is not None:
        return {p: dict(c) for p, c in accepted.minimums.items()}
    return monthly_minimums(plan, month)


def _parsed(data: dict[str, Any]) -> Plan:
    try:
        return schedules.parse_plan(data)
    except PlanError as exc:
        raise Invalid("plans.invalid", _N("{problem}"), problem=str(exc)) from None


def suggest(
    session: Session,
    actor: Actor,
    month_text: str,
    *,
    plan: Plan | None = None,
    extra_risk: ExtraRisk | None = None,
    today: date | None = None,
    model: RiskModel | None = None,
) -> PlanSuggestion:
    """Suggest the month's plan from the current plan (or `plan`, e.g. a file) and store it, open, in place
    of any open suggestion for the same month. `extra_risk` adds per point × item risk (hotspot signals)."""
    require_role(actor, Role.ADMIN)
    district_id = plans.district_of(session, actor)
    today = today or clock.today_of(session, district_id)
    month = target_month(month_text, today)
    model = model or risk_model()
    version = None if plan is not None else _base_version(session, district_id, month)
    if plan is not None:
        base, kind = plan, "file"
        minimums = monthly_minimums(plan, month)
    elif version is not None:
        base, kind = _parsed(version.plan), "version"
        minimums = _minimums_of(session, version, base, month)
    else:
        base, kind = plans.load(), "shipped"
        minimums = monthly_minimums(base, month)
    plans.check_points(session, district_id, base)
    risks = gather_risk(session, district_id, base, today, model, extra_risk)
    result = distribute(base, minimums, risks, month, model, before=monthly_minimums(base, month))
    latest = plans.latest_version(session, district_id, str(month))
    for old in session.exec(
        select(PlanSuggestion).where(
            PlanSuggestion.district_id == district_id,
            PlanSuggestion.month == str(month),
            PlanSuggestion.status == SuggestionStatus.OPEN.value,
        )
    ).all():
        before = audit.snapshot(old)
        guard, values = {"status": SuggestionStatus.OPEN.value}, {"status": SuggestionStatus.SUPERSEDED.value}
        if atomic.update_where(session, old, guard, values):
            audit.record(session, actor, old, "supersede", before)
    origin = {"kind": kind, "number": version.number if version else None, "month": version.month if version else None}
    capacity = {**result.capacity, "base": origin}
    row = PlanSuggestion(
        district_id=district_id,
        month=str(month),
        base_version_id=version.id if version else None,
        follows_number=latest.number if latest else 0,
        name=result.plan.name,
        digest=result.plan.digest(),
        plan=result.plan.model_dump(mode="json"),
        minimums=result.minimums,
        changes=result.changes,
        capacity=capacity,
        created_by_id=actor.user_id,
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, row, "suggest", None)
    return row


def get(session: Session, actor: Actor, suggestion_id: int) -> PlanSuggestion:
    """A suggestion of the actor's district, or NotFound."""
    require_role(actor, Role.ADMIN)
    row = session.get(PlanSuggestion, suggestion_id)
    if row is None or row.district_id != plans.district_of(session, actor):
        raise NotFound("plan_suggestions.none", _N("no plan suggestion {id}"), id=suggestion_id)
    return row


def public(row: PlanSuggestion) -> PlanSuggestionPublic:
    """A suggestion as the command line and pages show it."""
    return PlanSuggestionPublic.model_validate(row, from_attributes=True)


def recent(session: Session, actor: Actor, limit: int = 10) -> list[PlanSuggestion]:
    """The district's newest suggestions."""
    require_role(actor, Role.ADMIN)
    return list(
        session.exec(
            select(PlanSuggestion)
            .where(PlanSuggestion.district_id == plans.district_of(session, actor))
            .order_by(col(PlanSuggestion.id).desc())
            .limit(max(1, min(limit, 100)))
        ).all()
    )


def accept(session: Session, actor: Actor, suggestion_id: int, *, today: date | None = None) -> PlanVersion:
    """Store an open suggestion as the month's next plan version, with its dated tasks.

    Refused with Conflict when it was accepted or replaced already, or when it is stale: a plan version of
    the month was stored after it was made, or the plan it was built from is no longer the current one. Of
    two administrators accepting at once, one wins (a conditional update of its status; the version number
    is unique per month)."""
    row = get(session, actor, suggestion_id)
    district_id = row.district_id
    if row.status == SuggestionStatus.ACCEPTED.value:
        accepted = session.get(PlanVersion, row.accepted_version_id) if row.accepted_version_id else None
        raise Conflict(
            "plan_suggestions.accepted",
            _N("suggestion {id} was accepted already (plan version {number} of {month})"),
            id=suggestion_id,
            number=accepted.number if accepted else "?",
            month=row.month,
        )
    if row.status != SuggestionStatus.OPEN.value:
        raise Conflict(
            "plan_suggestions.superseded",
            _N("suggestion {id} was replaced by a newer suggestion for {month}"),
            id=suggestion_id,
            month=row.month,
        )
    latest = plans.latest_version(session, district_id, row.month)
    base = _base_version(session, district_id, Month.parse(row.month))
    kind = (row.capacity.get("base") or {}).get("kind")
    if (latest.number if latest else 0) != row.follows_number or (
        kind != "file" and (base.id if base else None) != row.base_version_id
    ):
        raise Conflict(
            "plan_suggestions.stale",
            _N("suggestion {id} is out of date: the plans of {month} changed since it was made; suggest again"),
            id=suggestion_id,
            month=row.month,
        )
    before = audit.snapshot(row)
    try:
        version, _schedule = plans.generate(session, actor, _parsed(row.plan), row.month, today=today)
    except IntegrityError:
        session.rollback()
        raise Conflict(
            "plan_suggestions.raced",
            _N("another plan version of {month} was stored at the same moment; suggest again"),
            month=row.month,
        ) from None
    decided = {
        "status": SuggestionStatus.ACCEPTED.value,
        "decided_at": clock.now(),
        "decided_by_id": actor.user_id,
        "accepted_version_id": version.id,
    }
    if not atomic.update_where(session, row, {"status": SuggestionStatus.OPEN.value}, decided):
        session.rollback()
        raise Conflict(
            "plan_suggestions.accepted_meanwhile",
            _N("suggestion {id} was accepted or replaced by someone else at the same moment"),
            id=suggestion_id,
        )
    audit.record(session, actor, row, "accept", before)
    return version


def plan_yaml(row: PlanSuggestion) -> str:
    """The suggested plan as a plan file (`lims plan generate --plan FILE` reads it)."""
    return yaml.safe_dump(row.plan, allow_unicode=True, sort_keys=False)
