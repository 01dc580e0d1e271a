"""Quality control that holds results: control runs per item, kit lot and day, the holds they put on results,
Levey-Jennings charts with Westgard rules, and blind (proficiency) samples.

The rules (which controls each method asks for, how each is judged, which Westgard rules are in force) are
data: `lims/reference/qc.yaml`. What they decide:

* A control run is judged against its acceptance rule: an ``outcome`` control through the family's own
  judgement (a negative card must read negative, a positive card positive), a blank control's ΔA within the
  enzyme method's range, a reagent blank's absorbance below its ceiling, a standard's recovery within its range.
  A quantitative control (ΔA, a standard's concentration) is then put to the Westgard rules against its lot's
  established mean and SD (qc.yaml) or the mean and SD of its lot's first runs: a rejection fails the run.
* The scope of a control is the district, the item, the kit lot and the district's local date of the run (a
  spectrophotometric "batch" is the day's runs of one item with one reagent lot). The latest run of each
  required kind in a scope decides: a failed one holds every result of the scope from approval and publication;
  a passing one recorded later releases them (the results themselves are not changed: the hold is read from the
  control runs each time). A reviewer may still reject a held result (with a reason), which invalidates it.
* A missing control holds too, once the district has started quality control of the item: from the day of the
  first control run it records for the item, every lot and day the item is tested needs a passing run of each
  required kind that day, and its results wait until one exists. (Results of days before that first control were
  tested before the lab kept controls in the LIMS; they are not held.)
"""

from __future__ import annotations

import html
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func
from sqlmodel import Session, col, select

from instrument_drivers import family_registry
from lims.i18n import _N, judgement_reason, terms
from lims.judgement import reasons, spectro
from lims.models import FoodCategory, Instrument, KitLot, Limit, Sample, TestItem, TestResult
from lims.models.common import ResultStatus, Role
from lims.models.qc import BlindCreate, BlindPublic, BlindSample, ControlPublic, ControlRun, ControlSubmit, QcStatus
from lims.services.access.auth import require_role
from lims.services.core import audit, clock
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, Invalid, NotFound
from lims.services.lab import stock, westgard
from lims.services.reference import judging, reference_data
from lims.services.samples import sampling

QC_FILE = "qc.yaml"
HOLD_FAILED = "control_failed"
HOLD_MISSING = "control_missing"
MAX_HISTORY = 500  # control runs on one chart or one history page

# Why a control run passed or failed (reason codes, rendered in the reader's language).
REASONS: dict[str, str] = {
    "qc_outcome_as_expected": _N("Control passed: the {kind} read {outcome}, as expected."),
    "qc_outcome_unexpected": _N(
        "Control failed: the {kind} read {outcome} where {expected} was expected ({detail}); the results "
        "of this lot and day are held until a control passes."
    ),
    "qc_control_dA_in_range": _N("Control passed: the blank control's ΔA is {value}, within {low}–{high}."),
    "qc_control_dA_out_of_range": _N(
        "Control failed: the blank control's ΔA is {value}, outside {low}–{high} ({source}); check the enzyme and "
        "substrate; the results of this lot and day are held until a control passes."
    ),
    "qc_blank_ok": _N("Control passed: the reagent blank reads {value} A, at most {high} A."),
    "qc_blank_high": _N(
        "Control failed: the reagent blank reads {value} A, above {high} A ({source}); make up fresh reagents; the "
        "results of this batch are held until a control passes."
    ),
    "qc_recovery_ok": _N("Control passed: the standard reads {value} {unit} of {expected}, recovery {recovery} %."),
    "qc_recovery_out_of_range": _N(
        "Control failed: the standard reads {value} {unit} of {expected}, recovery {recovery} % outside "
        "{low}–{high} % ({source}); the results of this batch are held until a control passes."
    ),
    "qc_westgard_rejected": _N(
        "Control failed: Westgard rule {rules} broken (z = {z}, mean {mean}, SD {sd}); the results of this batch "
        "are held until a control passes."
    ),
    "qc_westgard_warning": _N("Control passed with a warning: Westgard rule {rules} (z = {z}, mean {mean}, SD {sd})."),
}
reasons.register(REASONS)

# The kinds of control and the outcomes a control card reads, as reason parameters rendered in the reader's language.
KIND_TEXT: dict[str, str] = {
    "negative": _N("negative control"),
    "positive": _N("positive control"),
    "blank": _N("blank control"),
    "spiked": _N("spiked control"),
    "standard": _N("standard"),
}
OUTCOME_TEXT: dict[str, str] = {
    "negative": _N("negative"),
    "positive": _N("positive"),
    "invalid": _N("invalid"),
}
reasons.register({f"qc_kind_{k}": v for k, v in KIND_TEXT.items()})
reasons.register({f"qc_read_{k}": v for k, v in OUTCOME_TEXT.items()})


def kind_param(kind: str) -> dict[str, Any]:
    """A kind of control as a reason parameter."""
    return {"code": f"qc_kind_{kind}", "params": {}}


def _read(outcome: str) -> dict[str, Any]:
    return {"code": f"qc_read_{outcome}", "params": {}}


# --- the rules (data) --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ControlRule:
    """One control a method asks for: its kind, how it is judged, and its figures."""

    kind: str
    check: str
    figures: Mapping[str, Any]
    quantitative: bool = False


@dataclass(frozen=True)
class Rules:
    """The quality-control rules of reference/qc.yaml."""

    families: Mapping[str, tuple[ControlRule, ...]]
    sources: Mapping[str, str]
    items: Mapping[str, Mapping[str, Any]]
    warning: tuple[str, ...]
    rejection: tuple[str, ...]
    baseline_runs: int
    westgard_source: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    def controls(self, family: str) -> tuple[ControlRule, ...]:
        """The controls a family's method asks for (none for a family the file does not name)."""
        return self.families.get(family, ())

    def rule(self, family: str, kind: str) -> ControlRule | None:
        """The rule of one kind of control of a family."""
        return next((r for r in self.controls(family) if r.kind == kind), None)


CHECKS = {"outcome", "control_dA", "blank", "recovery"}


def parse_rules(doc: Mapping[str, Any], where: str = QC_FILE) -> Rules:
    """The rules of a qc.yaml document, or ValueError naming what is wrong."""
    families: dict[str, tuple[ControlRule, ...]] = {}
    sources: dict[str, str] = {}
    for family, spec in (doc.get("families") or {}).items():
        if not isinstance(spec, Mapping) or not str(spec.get("source", "")).strip():
            raise ValueError(f"{where}: family {family!r} needs a source")
        sources[str(family)] = str(spec["source"])
        controls = []
        for entry in spec.get("controls") or []:
            check = entry.get("check")
            if check not in CHECKS:
                raise ValueError(f"{where}: {family}: unknown check {check!r}; known: {', '.join(sorted(CHECKS))}")
            figures = {k: v for k, v in entry.items() if k not in {"kind", "check", "quantitative"}}
            controls.append(ControlRule(str(entry["kind"]), str(check), figures, bool(entry.get("quantitative"))))
        families[str(family)] = tuple(controls)
    rules = doc.get("westgard") or {}
    warning = tuple(str(r) for r in rules.get("warning", ["1-2s"]))
    rejection = tuple(str(r) for r in rules.get("rejection", ["1-3s", "2-2s"]))
    unknown = [r for r in (*warning, *rejection) if r not in westgard.RULES]
    if unknown:
        raise ValueError(f"{where}: unknown Westgard rule(s) {', '.join(unknown)}; known: {', '.join(westgard.RULES)}")
    baseline = int(rules.get("baseline_runs", 20))
    if not 2 <= baseline <= 100:
        raise ValueError(f"{where}: baseline_runs must be 2–100, got {baseline}")
    items = {str(k): dict(v) for k, v in (doc.get("items") or {}).items()}
    for code, figures in items.items():
        sd = figures.get("sd")
        if sd is not None and (not isinstance(sd, int | float) or sd <= 0):
            raise ValueError(f"{where}: item {code}: sd must be a positive number")
    return Rules(families, sources, items, warning, rejection, baseline, str(rules.get("source", "")))


@cache
def _rules_at(path: Path) -> Rules:
    return parse_rules(yaml.safe_load(path.read_text(encoding="utf-8")) or {}, str(path))


def rules() -> Rules:
    """The shipped quality-control rules (reference/qc.yaml), read once."""
    return _rules_at(reference_data.shipped_reference_dir() / QC_FILE)


# --- recording a control run --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """How a control run came out against its acceptance rule, before the Westgard rules."""

    passed: bool
    code: str
    params: dict[str, Any]
    value: float | None = None
    expected: float | None = None
    recovery: float | None = None


def _fmt(x: float | None, digits: int = 3) -> str:
    if x is None:
        return "—"
    return f"{x:.{digits}g}" if abs(x) >= 1 else f"{x:.{digits}f}".rstrip("0").rstrip(".") or "0"


def _limit(session: Session, item: TestItem, category_code: str | None) -> Limit:
    statement = select(Limit).where(Limit.item_id == item.id, col(Limit.retired).is_(False)).order_by(col(Limit.id))
    limits = list(session.exec(statement).all())
    if category_code:
        category = reference_data.category(session, category_code)
        limits = [lim for lim in limits if category is not None and lim.category_id == category.id]
    if not limits:
        raise Invalid(
            "qc.no_limit_for_control",
            _N("item {item_code} is not tested on {category_code}: a control is read for a category it is tested on"),
            item_code=item.code,
            category_code=category_code or "—",
        )
    return limits[0]


def _category_of(session: Session, limit: Limit) -> str:
    category = session.get(FoodCategory, limit.category_id)
    return category.code if category else ""


def _judge_outcome(
    session: Session, item: TestItem, rule: ControlRule, data: ControlSubmit, kit: KitLot | None
) -> Verdict:
    limit = _limit(session, item, data.category_code)
    judged = judging.judge(item, data.raw, limit, kit, matrix=_category_of(session, limit))
    expected = str(rule.figures.get("expect", "negative"))
    params = {"kind": kind_param(data.kind), "outcome": _read(judged.outcome.value)}
    if judged.outcome.value == expected:
        return Verdict(True, "qc_outcome_as_expected", params, judged.value)
    detail = {"code": judged.reason_code, "params": judged.reason_params}
    failed = {**params, "expected": _read(expected), "detail": detail}
    return Verdict(False, "qc_outcome_unexpected", failed, judged.value)


def _number(raw: Mapping[str, float], *names: str) -> float | None:
    for name in names:
        if name in raw:
            return float(raw[name])
    return None


def _judge_control_dA(item: TestItem, rule: ControlRule, data: ControlSubmit) -> Verdict:
    value = _number(data.raw, "control_dA")
    if value is None and "control_a0" in data.raw and "control_a3" in data.raw:
        value = float(data.raw["control_a3"]) - float(data.raw["control_a0"])
    if value is None:
        raise Invalid(
            "qc.control_needs_figures",
            _N("a {kind} of item {item_code} needs the figures {wanted}"),
            kind=kinds_term([data.kind]),
            item_code=item.code,
            wanted="control_dA (or control_a0, control_a3)",
        )
    low = float(item.method.get("min_control_dA", 0.3))
    high = float(rule.figures.get("max_dA", 3.0))
    params = {"value": _fmt(value), "low": _fmt(low), "high": _fmt(high)}
    if low - 1e-9 <= value <= high + 1e-9:
        return Verdict(True, "qc_control_dA_in_range", params, value)
    source = f"{item.method.get('source', item.method_standard)}; {rule.figures.get('max_source', '')}".strip("; ")
    return Verdict(False, "qc_control_dA_out_of_range", {**params, "source": source}, value)


def _judge_blank(item: TestItem, rule: ControlRule, data: ControlSubmit) -> Verdict:
    value = _number(data.raw, "absorbance", "blank")
    if value is None:
        raise Invalid(
            "qc.control_needs_figures",
            _N("a {kind} of item {item_code} needs the figures {wanted}"),
            kind=kinds_term([data.kind]),
            item_code=item.code,
            wanted="absorbance",
        )
    high = float(rule.figures.get("max_absorbance", 0.05))
    params = {"value": _fmt(value), "high": _fmt(high)}
    if value <= high + 1e-9:
        return Verdict(True, "qc_blank_ok", params, value)
    return Verdict(False, "qc_blank_high", {**params, "source": str(rule.figures.get("max_source", ""))}, value)


def _judge_recovery(
    session: Session, item: TestItem, rule: ControlRule, data: ControlSubmit, figures: Mapping[str, Any]
) -> Verdict:
    absorbance = _number(data.raw, "absorbance")
    if absorbance is None:
        raise Invalid(
            "qc.control_needs_figures",
            _N("a {kind} of item {item_code} needs the figures {wanted}"),
            kind=kinds_term([data.kind]),
            item_code=item.code,
            wanted="absorbance (and blank)",
        )
    expected = data.expected if data.expected is not None else figures.get("standard_conc")
    if expected is None or float(expected) <= 0:
        raise Invalid(
            "qc.standard_needs_concentration",
            _N("a standard of item {item_code} needs its known concentration (expected)"),
            item_code=item.code,
        )
    blank = _number(data.raw, "blank") or 0.0
    raw = spectro.Raw(
        absorbance=absorbance,
        blank=blank,
        dilution=1.0,
        mass_g=1.0,
        slope=_number(data.raw, "slope"),
        intercept=_number(data.raw, "intercept"),
    )
    limit = _limit(session, item, data.category_code)
    context = judging.context(item, limit, None)
    try:
        curve = spectro.curve_for(raw, context)
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise Invalid(
            "judging.cannot_judge", _N("cannot judge {item_code}: {exc}"), item_code=item.code, exc=exc
        ) from None
    value = curve.concentration(absorbance - blank)
    recovery = value / float(expected) * 100.0
    low, high = (float(x) for x in rule.figures.get("recovery_pct", [80.0, 120.0]))
    params = {
        "value": _fmt(value),
        "unit": curve.conc_unit,
        "expected": _fmt(float(expected)),
        "recovery": f"{recovery:.1f}",
        "low": _fmt(low),
        "high": _fmt(high),
    }
    passed = low - 1e-9 <= recovery <= high + 1e-9
    code = "qc_recovery_ok" if passed else "qc_recovery_out_of_range"
    if not passed:
        params["source"] = str(rule.figures.get("recovery_source", rules().sources.get(item.family, "")))
    return Verdict(passed, code, params, value, float(expected), recovery)


def _verdict(session: Session, item: TestItem, rule: ControlRule, data: ControlSubmit, kit: KitLot | None) -> Verdict:
    figures = rules().items.get(item.code, {})
    if rule.check == "outcome":
        return _judge_outcome(session, item, rule, data, kit)
    if rule.check == "control_dA":
        return _judge_control_dA(item, rule, data)
    if rule.check == "blank":
        return _judge_blank(item, rule, data)
    return _judge_recovery(session, item, rule, data, figures)


def _series_filter(run: ControlRun) -> list[Any]:
    return [
        ControlRun.district_id == run.district_id,
        ControlRun.item_id == run.item_id,
        ControlRun.kind == run.kind,
        col(ControlRun.kit_lot_id).is_(None) if run.kit_lot_id is None else ControlRun.kit_lot_id == run.kit_lot_id,
        col(ControlRun.value).is_not(None),
    ]


def _target(session: Session, run: ControlRun, item: TestItem) -> tuple[float, float, str] | None:
    """The mean and SD the Westgard rules use for `run`'s series: established (qc.yaml), else the first runs."""
    figures = rules().items.get(item.code, {})
    mean, sd = figures.get("mean"), figures.get("sd")
    if run.kind == "standard" and run.expected is not None and figures.get("standard_conc") not in (None, run.expected):
        mean, sd = None, None  # another concentration than the established one: its own first runs
    if isinstance(mean, int | float) and isinstance(sd, int | float) and sd > 0:
        return float(mean), float(sd), "established"
    first = session.exec(
        select(ControlRun.value)
        .where(*_series_filter(run), col(ControlRun.id) != run.id)
        .order_by(col(ControlRun.tested_at), col(ControlRun.id))
        .limit(rules().baseline_runs)
    ).all()
    if len(first) < rules().baseline_runs:
        return None
    found = westgard.baseline([float(v) for v in first if v is not None])
    return (found[0], found[1], "first_runs") if found else None


def _apply_westgard(session: Session, run: ControlRun, item: TestItem) -> None:
    target = _target(session, run, item)
    if target is None or run.value is None:
        return
    mean, sd, basis = target
    before = session.exec(
        select(ControlRun.value)
        .where(*_series_filter(run), col(ControlRun.id) != run.id, col(ControlRun.tested_at) <= run.tested_at)
        .order_by(col(ControlRun.tested_at).desc(), col(ControlRun.id).desc())
        .limit(9)
    ).all()
    values = [float(v) for v in reversed(before) if v is not None] + [run.value]
    found = westgard.evaluate(values, mean, sd, warning=rules().warning, rejection=rules().rejection)
    run.westgard = [*found.rejections, *found.warnings]
    params = {
        "rules": ", ".join(found.rejections or found.warnings),
        "z": f"{found.z:.2f}",
        "mean": _fmt(mean),
        "sd": _fmt(sd),
        "basis": basis,
    }
    if found.rejected and run.passed:
        run.passed = False
        run.reason_code, run.reason_params = "qc_westgard_rejected", {**params, "acceptance": run.reason_params}
    elif found.warnings and run.passed:
        run.reason_code, run.reason_params = "qc_westgard_warning", {**params, "acceptance": run.reason_params}


def _kit(session: Session, item: TestItem, lot: str | None) -> KitLot | None:
    if lot is None:
        if judging.uses_kit_lot(item.family):
            raise Invalid(
                "qc.control_needs_kit_lot",
                _N("a control of item {item_code} is run on a kit lot: name it"),
                item_code=item.code,
            )
        return None
    kit = session.exec(select(KitLot).where(KitLot.item_id == item.id, KitLot.lot == lot)).first()
    if kit is None:
        raise Invalid(
            "records.unknown_kit_lot_item",
            _N("unknown kit lot {lot!r} for item {item_code}"),
            lot=lot,
            item_code=item.code,
        )
    return kit


def _instrument(session: Session, actor: Actor, serial: str | None, item: TestItem) -> Instrument | None:
    if serial is None:
        return None
    instrument = session.exec(select(Instrument).where(Instrument.serial == serial)).first()
    if (
        instrument is None
        or instrument.district_id != actor.district_id
        or family_registry.item_family(instrument.family) != item.family
    ):
        raise Invalid("records.unknown_instrument", _N("unknown instrument {serial!r}"), serial=serial)
    return instrument


def record(
    session: Session, actor: Actor, data: ControlSubmit, *, instrument_sequence: int | None = None
) -> ControlRun:
    """Judge a control run against its acceptance rule (and the Westgard rules) and store it; a passing run
    releases the results its failed or missing predecessor held, a failing one holds them. Testers record them
    from the bench or the instrument; the district's administrator may record one by hand (the QC page)."""
    require_role(actor, Role.TESTER, Role.ADMIN)
    item = reference_data.item(session, data.item_code)
    rule = rules().rule(item.family, data.kind)
    if rule is None:
        raise Invalid(
            "qc.unknown_control_kind",
            _N("the method of item {item_code} asks for no {kind}; it asks for: {kinds}"),
            item_code=item.code,
            kind=kinds_term([data.kind]),
            kinds=kinds_term(r.kind for r in rules().controls(item.family)),
        )
    kit = _kit(session, item, data.kit_lot)
    instrument = _instrument(session, actor, data.instrument_serial, item)
    tested_at = (data.tested_at or clock.now()).astimezone(UTC)
    if tested_at > clock.now() + timedelta(minutes=5):
        raise Invalid("records.tested_future", _N("tested_at is in the future"))
    verdict = _verdict(session, item, rule, data, kit)
    held = stock.holding_of(session, int(actor.district_id or 0), int(kit.id or 0)) if kit is not None else None
    if kit is not None and held is not None and held.remaining < max(1, item.units_per_test):
        # refused before anything is written (an instrument's control reading is then held with the reason)
        raise stock.LotExhausted(
            "qc.lot_exhausted",
            _N("kit lot {lot} has no units left for a control run ({remaining} left)"),
            lot=kit.lot,
            remaining=held.remaining,
        )
    run = ControlRun(
        district_id=int(actor.district_id or 0),
        item_id=int(item.id or 0),
        kit_lot_id=kit.id if kit else None,
        kind=data.kind,
        day=clock.local_date(tested_at, clock.zone_of(session, actor.district_id)),
        raw=dict(data.raw),
        value=verdict.value if rule.quantitative else None,
        expected=verdict.expected,
        recovery_pct=verdict.recovery,
        passed=verdict.passed,
        reason_code=verdict.code,
        reason_params=verdict.params,
        instrument_id=instrument.id if instrument else None,
        instrument_sequence=instrument_sequence if instrument else None,
        tester_id=int(actor.user_id or 0),
        tested_at=tested_at,
    )
    session.add(run)
    session.flush()
    if rule.quantitative:
        _apply_westgard(session, run, item)
        session.add(run)
        session.flush()
    audit.record(session, actor, run, "record_control", None)
    if kit is not None:  # the control's card or reagent set comes out of the lot's stock, booked as QC
        stock.use_for_qc(session, actor, kit, item, run.district_id, int(run.id or 0), tested_at)
    return run


def example_raw(
    session: Session, item: TestItem, kind: str, kit: KitLot | None, passing: bool, rng: random.Random
) -> dict[str, float]:
    """Raw figures a real control run of `kind` that passes (or fails) would give (for the demo)."""
    rule = rules().rule(item.family, kind)
    if rule is None:
        raise Invalid(
            "qc.unknown_control_kind",
            _N("the method of item {item_code} asks for no {kind}; it asks for: {kinds}"),
            item_code=item.code,
            kind=kinds_term([kind]),
            kinds=kinds_term(r.kind for r in rules().controls(item.family)),
        )
    if rule.check == "outcome":
        limit = _limit(session, item, None)
        reads_positive = (rule.figures.get("expect") == "positive") == passing
        return judging.example_raw(item, limit, kit, reads_positive, rng, matrix=_category_of(session, limit))
    if rule.check == "control_dA":
        low = float(item.method.get("min_control_dA", 0.3))
        return {"control_dA": round(rng.uniform(0.55, 0.65) if passing else rng.uniform(0.1, low * 0.8), 4)}
    if rule.check == "blank":
        high = float(rule.figures.get("max_absorbance", 0.05))
        return {"absorbance": round(rng.uniform(0.2, 0.6) * high if passing else high * rng.uniform(1.5, 3), 4)}
    conc = float(rules().items.get(item.code, {}).get("standard_conc", 1.0))
    slope, intercept, _r2 = spectro.fit_line([(float(c), float(a)) for c, a in item.method["standards"]])
    read = conc * (rng.uniform(0.99, 1.01) if passing else rng.uniform(1.3, 1.4))
    blank = round(rng.uniform(0.005, 0.015), 4)
    return {"absorbance": round(blank + intercept + slope * read, 4), "blank": blank}


# What a tester keys in as the sample id on an instrument to mark a reading as a control run.
CONTROL_LABELS: dict[str, str] = {
    "QC-NEG": "negative",
    "QC-POS": "positive",
    "QC-BLANK": "blank",
    "QC-SPIKE": "spiked",
    "QC-STD": "standard",
}


def control_kind(label: str | None) -> str | None:
    """The kind of control a reading's sample id marks (QC-NEG, QC-POS, QC-BLANK, QC-SPIKE, QC-STD), or None."""
    return CONTROL_LABELS.get((label or "").strip().upper())


def record_reading(
    session: Session,
    actor: Actor,
    *,
    kind: str,
    item_code: str,
    raw: Mapping[str, Any],
    instrument_serial: str,
    sequence: int,
    tested_at: datetime | None,
) -> ControlRun:
    """Record an instrument's reading marked as a control (its sample id QC-…) as a control run of `kind`."""
    figures = {k: float(v) for k, v in raw.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    lot = raw.get("kit_lot")
    data = ControlSubmit.model_validate(
        {
            "item_code": item_code,
            "kind": kind,
            "raw": figures,
            "kit_lot": str(lot) if lot else None,
            "instrument_serial": instrument_serial,
            "tested_at": tested_at,
        }
    )
    return record(session, actor, data, instrument_sequence=sequence)


# --- holds ---------------------------------------------------------------------------------------------------


Scope = tuple[int, int, int | None, date]  # district, item, kit lot, local day


@dataclass(frozen=True)
class Hold:
    """Why the results of a scope are held: failed or missing controls, by kind."""

    code: str
    kinds: tuple[str, ...]


HELD_FAILED = _N(
    "cannot {action} result {result_id}: it is held by quality control, the latest {kinds} of its kit lot on its "
    "day failed; record a passing control, or reject the result with a reason"
)
HELD_MISSING = _N(
    "cannot {action} result {result_id}: it is held by quality control, its kit lot has no {kinds} on its day "
    "yet; record the controls, or reject the result with a reason"
)


# The same, as a stored-reason code and parameters for a page (judgement_reason), without the action.
reasons.register(
    {
        "qc_hold_control_failed": _N(
            "Held by quality control: the latest {kinds} of this kit lot on this day failed; record a passing "
            "control, or reject the result with a reason."
        ),
        "qc_hold_control_missing": _N(
            "Held by quality control: this kit lot has no {kinds} on this day yet; record the controls, or reject "
            "the result with a reason."
        ),
        "qc_kinds_pair": _N("{first} and {second}"),
    }
)


def hold_reason(code: str, kinds: Sequence[str]) -> tuple[str, dict[str, Any]]:
    """A hold as a reason code and parameters (rendered in the reader's language by `judgement_reason`)."""
    shown: dict[str, Any] = kind_param(kinds[0]) if kinds else {"code": "legacy_text", "params": {"text": ""}}
    for kind in kinds[1:]:
        shown = {"code": "qc_kinds_pair", "params": {"first": shown, "second": kind_param(kind)}}
    return f"qc_hold_{code}", {"kinds": shown}


def kinds_term(kinds: Iterable[str]) -> terms.Term:
    """Kinds of control as a message parameter (named in the reader's language)."""
    plain = tuple(kinds)
    return terms.Term(plain, tuple(KIND_TEXT.get(k, k) for k in plain))


def _scope(session: Session, result: TestResult, zones: dict[int, Any]) -> Scope:
    if result.district_id not in zones:
        zones[result.district_id] = clock.zone_of(session, result.district_id)
    day = clock.local_date(result.tested_at, zones[result.district_id])
    return (result.district_id, result.item_id, result.kit_lot_id, day)


def holds(session: Session, results: Sequence[TestResult]) -> dict[int, Hold]:
    """The quality-control hold of each of `results` that is held (by result id)."""
    if not results:
        return {}
    items = {i.id: i for i in session.exec(select(TestItem).where(col(TestItem.id).in_({r.item_id for r in results})))}
    zones: dict[int, Any] = {}
    scopes = {int(r.id or 0): _scope(session, r, zones) for r in results}
    districts = {s[0] for s in scopes.values()}
    item_ids = {s[1] for s in scopes.values()}
    started = {
        (d, i): first
        for d, i, first in session.exec(
            select(ControlRun.district_id, ControlRun.item_id, func.min(ControlRun.day))
            .where(col(ControlRun.district_id).in_(districts), col(ControlRun.item_id).in_(item_ids))
            .group_by(col(ControlRun.district_id), col(ControlRun.item_id))
        ).all()
    }
    if not started:
        return {}
    days = {s[3] for s in scopes.values()}
    latest: dict[tuple[Scope, str], bool] = {}
    for run in session.exec(
        select(ControlRun)
        .where(
            col(ControlRun.district_id).in_(districts),
            col(ControlRun.item_id).in_(item_ids),
            col(ControlRun.day).in_(days),
        )
        .order_by(col(ControlRun.tested_at), col(ControlRun.id))
    ):
        latest[((run.district_id, run.item_id, run.kit_lot_id, run.day), run.kind)] = run.passed
    found: dict[int, Hold] = {}
    for result_id, scope in scopes.items():
        first = started.get((scope[0], scope[1]))
        item = items.get(scope[1])
        if first is None or item is None or scope[3] < first:
            continue
        hold = _hold_of(scope, item, latest)
        if hold is not None:
            found[result_id] = hold
    return found


def _hold_of(scope: Scope, item: TestItem, latest: Mapping[tuple[Scope, str], bool]) -> Hold | None:
    required = [r.kind for r in rules().controls(item.family)]
    failed = tuple(k for k in required if latest.get((scope, k)) is False)
    if failed:
        return Hold(HOLD_FAILED, failed)
    missing = tuple(k for k in required if (scope, k) not in latest)
    return Hold(HOLD_MISSING, missing) if missing else None


def hold_of(session: Session, result: TestResult) -> Hold | None:
    """The quality-control hold on one result, or None when its controls let it be reviewed."""
    return holds(session, [result]).get(int(result.id or 0))


def require_released(session: Session, result: TestResult, action: str) -> None:
    """Refuse approving or publishing a result its lot's controls hold (409 with the reason)."""
    hold = hold_of(session, result)
    if hold is None:
        return
    params: dict[str, Any] = {"action": terms.action(action), "result_id": result.id, "kinds": kinds_term(hold.kinds)}
    if hold.code == HOLD_FAILED:
        raise Conflict("qc.control_failed", HELD_FAILED, **params)
    raise Conflict("qc.control_missing", HELD_MISSING, **params)


def status(session: Session, actor: Actor, item_code: str, kit_lot: str | None, day: date | None = None) -> QcStatus:
    """Where the controls of an item, kit lot and day stand in the actor's district, and how many results they hold."""
    require_role(actor, Role.TESTER, Role.REVIEWER, Role.ADMIN)
    item = reference_data.item(session, item_code)
    kit = _kit(session, item, kit_lot) if kit_lot else None
    on = day or clock.today_of(session, actor.district_id)
    district = int(actor.district_id or 0)
    scope: Scope = (district, int(item.id or 0), kit.id if kit else None, on)
    latest: dict[tuple[Scope, str], bool] = {}
    for run in session.exec(
        select(ControlRun)
        .where(
            ControlRun.district_id == district,
            ControlRun.item_id == item.id,
            ControlRun.day == on,
            col(ControlRun.kit_lot_id).is_(None) if kit is None else ControlRun.kit_lot_id == kit.id,
        )
        .order_by(col(ControlRun.tested_at), col(ControlRun.id))
    ):
        latest[(scope, run.kind)] = run.passed
    required = [r.kind for r in rules().controls(item.family)]
    start, end = clock.day_bounds(on, clock.zone_of(session, district))
    statement = select(TestResult).where(
        TestResult.district_id == district,
        TestResult.item_id == item.id,
        col(TestResult.tested_at) >= start,
        col(TestResult.tested_at) < end,
        col(TestResult.status).in_([ResultStatus.TESTED, ResultStatus.APPROVED]),
        col(TestResult.repeat_of_id).is_(None),
        col(TestResult.kit_lot_id).is_(None) if kit is None else TestResult.kit_lot_id == kit.id,
    )
    waiting = list(session.exec(statement.limit(10_000)).all())
    held = holds(session, waiting)
    started = session.exec(
        select(ControlRun.id).where(
            ControlRun.district_id == district, ControlRun.item_id == item.id, col(ControlRun.day) <= on
        )
    ).first()
    hold = next(iter(held.values()), None) if held else (_hold_of(scope, item, latest) if started else None)
    return QcStatus(
        item_code=item.code,
        kit_lot=kit.lot if kit else None,
        day=on,
        required=required,
        passed=[k for k in required if latest.get((scope, k)) is True],
        failed=[k for k in required if latest.get((scope, k)) is False],
        missing=[k for k in required if (scope, k) not in latest],
        hold=hold.code if hold else None,
        held_results=len(held),
    )


@dataclass(frozen=True)
class LatestRun:
    """The latest control run of one kind in a scope of the day: passed or failed, when, by whom."""

    kind: str
    passed: bool
    tested_at: datetime
    tester: str
    westgard: tuple[str, ...]


@dataclass(frozen=True)
class BoardRow:
    """One item × kit lot of a day: its status, the latest run of each kind it asks for."""

    item: TestItem
    kit: KitLot | None
    status: QcStatus
    latest: dict[str, LatestRun]


MAX_BOARD = 200  # item × lot rows on one day's board


def board(session: Session, actor: Actor, day: date | None = None) -> list[BoardRow]:
    """Every item × kit lot of the actor's district that has a control run or a result on `day` (today by
    default), or a usable holding of an unexpired lot: its required controls, their latest runs and what they hold."""
    require_role(actor, Role.TESTER, Role.REVIEWER, Role.ADMIN)
    from lims.models import KitStock, User

    district = int(actor.district_id or 0)
    on = day or clock.today_of(session, district)
    start, end = clock.day_bounds(on, clock.zone_of(session, district))
    pairs: set[tuple[int, int | None]] = set()
    for item_id, lot_id in session.exec(
        select(ControlRun.item_id, ControlRun.kit_lot_id).where(
            ControlRun.district_id == district, ControlRun.day == on
        )
    ).all():
        pairs.add((item_id, lot_id))
    for item_id, lot_id in session.exec(
        select(TestResult.item_id, TestResult.kit_lot_id)
        .where(
            TestResult.district_id == district,
            col(TestResult.tested_at) >= start,
            col(TestResult.tested_at) < end,
        )
        .distinct()
        .limit(MAX_BOARD)
    ).all():
        pairs.add((item_id, lot_id))
    for item_id, lot_id in session.exec(
        select(KitLot.item_id, KitLot.id)
        .join(KitStock, col(KitStock.kit_lot_id) == col(KitLot.id))
        .where(KitStock.district_id == district, col(KitLot.expires_on) >= on)
        .limit(MAX_BOARD)
    ).all():
        pairs.add((item_id, lot_id))
    items = {i.id: i for i in session.exec(select(TestItem))}
    lot_ids = {lot_id for _, lot_id in pairs if lot_id is not None}
    lots = {k.id: k for k in session.exec(select(KitLot).where(col(KitLot.id).in_(lot_ids)))} if lot_ids else {}
    rows: list[BoardRow] = []
    for item_id, lot_id in sorted(pairs, key=lambda p: (items[p[0]].code, lots[p[1]].lot if p[1] in lots else ""))[
        :MAX_BOARD
    ]:
        item, kit = items[item_id], lots.get(lot_id) if lot_id is not None else None
        if not rules().controls(item.family):
            continue
        state = status(session, actor, item.code, kit.lot if kit else None, on)
        latest: dict[str, LatestRun] = {}
        runs = session.exec(
            select(ControlRun, User.username)
            .join(User, col(User.id) == col(ControlRun.tester_id))
            .where(
                ControlRun.district_id == district,
                ControlRun.item_id == item.id,
                ControlRun.day == on,
                col(ControlRun.kit_lot_id).is_(None) if kit is None else ControlRun.kit_lot_id == kit.id,
            )
            .order_by(col(ControlRun.tested_at), col(ControlRun.id))
        ).all()
        for run, username in runs:
            latest[run.kind] = LatestRun(run.kind, run.passed, run.tested_at, str(username), tuple(run.westgard))
        rows.append(BoardRow(item, kit, state, latest))
    return rows


def district_lot(session: Session, actor: Actor, lot_id: int) -> KitLot:
    """A kit lot the actor's district holds or has run controls on, or 404 (another district's lot is not seen)."""
    require_role(actor, Role.TESTER, Role.REVIEWER, Role.ADMIN)
    kit = lot(session, lot_id)
    district = int(actor.district_id or 0)
    ran = session.exec(
        select(ControlRun.id).where(ControlRun.district_id == district, ControlRun.kit_lot_id == kit.id)
    ).first()
    if ran is None and stock.holding_of(session, district, int(kit.id or 0)) is None:
        raise NotFound("qc.no_kit_lot", _N("no kit lot {lot_id}"), lot_id=lot_id)
    return kit


# --- history and chart ----------------------------------------------------------------------------------------


def lot(session: Session, lot_id: int) -> KitLot:
    """A kit lot by id (kit lots are shared reference data), or 404."""
    kit = session.get(KitLot, lot_id)
    if kit is None:
        raise NotFound("qc.no_kit_lot", _N("no kit lot {lot_id}"), lot_id=lot_id)
    return kit


def lot_by_code(session: Session, code: str, item_code: str | None = None) -> KitLot:
    """A kit lot by its lot number (and item, when two items share a number), or 404."""
    statement = select(KitLot).where(KitLot.lot == code.strip())
    if item_code:
        statement = statement.where(KitLot.item_id == reference_data.item(session, item_code).id)
    found = list(session.exec(statement.limit(2)))
    if len(found) != 1:
        raise NotFound("qc.no_kit_lot_named", _N("no kit lot {lot!r} (name the item too if two share it)"), lot=code)
    return found[0]


def history(
    session: Session,
    actor: Actor,
    *,
    lot_id: int | None = None,
    item_code: str | None = None,
    kind: str | None = None,
    limit: int = 100,
) -> list[ControlRun]:
    """The actor's district's control runs of a kit lot (or an item's runs without a lot), newest first."""
    require_role(actor, Role.TESTER, Role.REVIEWER, Role.ADMIN)
    statement = select(ControlRun).where(ControlRun.district_id == actor.district_id)
    if lot_id is not None:
        statement = statement.where(ControlRun.kit_lot_id == lot(session, lot_id).id)
    if item_code:
        statement = statement.where(ControlRun.item_id == reference_data.item(session, item_code).id)
    if kind:
        statement = statement.where(ControlRun.kind == kind)
    bounded = max(1, min(limit, MAX_HISTORY))
    return list(
        session.exec(statement.order_by(col(ControlRun.tested_at).desc(), col(ControlRun.id).desc()).limit(bounded))
    )


def views(session: Session, runs: Iterable[ControlRun], lang: str = "en") -> list[ControlPublic]:
    """API views of control runs, their reasons in `lang`."""
    runs = list(runs)
    items = {i.id: i.code for i in session.exec(select(TestItem))}
    lot_ids = {r.kit_lot_id for r in runs if r.kit_lot_id}
    lots = {k.id: k.lot for k in session.exec(select(KitLot).where(col(KitLot.id).in_(lot_ids)))} if lot_ids else {}
    instrument_ids = {r.instrument_id for r in runs if r.instrument_id}
    serials = (
        {i.id: i.serial for i in session.exec(select(Instrument).where(col(Instrument.id).in_(instrument_ids)))}
        if instrument_ids
        else {}
    )
    return [
        ControlPublic(
            id=int(r.id or 0),
            item_code=items.get(r.item_id, ""),
            kit_lot=lots.get(r.kit_lot_id) if r.kit_lot_id else None,
            kind=r.kind,
            day=r.day,
            raw=r.raw,
            value=r.value,
            expected=r.expected,
            recovery_pct=r.recovery_pct,
            passed=r.passed,
            reason_code=r.reason_code,
            reason=judgement_reason(r.reason_code, r.reason_params, lang),
            westgard=list(r.westgard),
            instrument_serial=serials.get(r.instrument_id) if r.instrument_id else None,
            tested_at=r.tested_at,
        )
        for r in runs
    ]


def chart_svg(session: Session, actor: Actor, lot_id: int, kind: str | None = None, lang: str = "en") -> str:
    """A Levey-Jennings chart (SVG) of a kit lot's quantitative control runs in the actor's district, with the
    mean, ±1/2/3 SD lines and the runs that broke a Westgard rule marked."""
    from lims.i18n import gettext

    runs = [
        r for r in reversed(history(session, actor, lot_id=lot_id, kind=kind, limit=MAX_HISTORY)) if r.value is not None
    ]
    kit = lot(session, lot_id)
    item = session.get(TestItem, kit.item_id)
    assert item is not None
    title = f"{kit.lot} · {item.code}"
    return _draw(runs, item, title, lambda text: gettext(text, lang))


CHART_WIDTH, CHART_HEIGHT, MARGIN = 640, 280, 48


def _draw(runs: Sequence[ControlRun], item: TestItem, title: str, t: Any) -> str:
    """An SVG Levey-Jennings chart (no script, no image files): the runs in order, the mean and ±1/2/3 SD lines,
    failed runs in red and runs with a Westgard warning in amber."""
    values = [float(r.value) for r in runs if r.value is not None]
    established = rules().items.get(item.code, {})
    mean, sd = established.get("mean"), established.get("sd")
    if not (isinstance(mean, int | float) and isinstance(sd, int | float)):
        found = westgard.baseline(values[: rules().baseline_runs]) if len(values) >= 2 else None
        mean, sd = found if found else (None, None)
    lines: list[tuple[float, str]] = []
    if isinstance(mean, int | float) and isinstance(sd, int | float) and sd > 0:
        lines = [(float(mean) + k * float(sd), f"{k:+d} SD" if k else t(_N("mean"))) for k in range(-3, 4)]
    span = [v for v, _ in lines] + values
    low, high = (min(span), max(span)) if span else (0.0, 1.0)
    if high - low < 1e-12:
        low, high = low - 1.0, high + 1.0
    pad = (high - low) * 0.08
    low, high = low - pad, high + pad
    inner_w, inner_h = CHART_WIDTH - 2 * MARGIN, CHART_HEIGHT - 2 * MARGIN

    def y(v: float) -> float:
        return MARGIN + (high - v) / (high - low) * inner_h

    def x(i: int) -> float:
        return MARGIN + (inner_w * (i + 0.5) / max(len(values), 1))

    e = html.escape
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {CHART_WIDTH} {CHART_HEIGHT}" width="100%" role="img" '
        f'aria-label="{e(title)}">',
        f"<title>{e(title)}</title>",
        f'<rect x="0" y="0" width="{CHART_WIDTH}" height="{CHART_HEIGHT}" fill="#ffffff"/>',
        f'<text x="{MARGIN}" y="24" font-size="14" fill="#1a1a1a">{e(title)}</text>',
    ]
    for value, label in lines:
        colour = "#1a1a1a" if label.startswith("±") or not label.endswith("SD") else "#5c5c5c"
        dash = "" if not label.endswith("SD") else ' stroke-dasharray="4 3"'
        parts.append(
            f'<line x1="{MARGIN}" x2="{CHART_WIDTH - MARGIN}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="{colour}" stroke-width="1"{dash}/>'
        )
        parts.append(
            f'<text x="{CHART_WIDTH - MARGIN + 4}" y="{y(value) + 4:.1f}" font-size="11" fill="#1a1a1a">'
            f"{e(label)}</text>"
        )
    points = [r for r in runs if r.value is not None]
    if len(points) > 1:
        path = " ".join(f"{x(i):.1f},{y(float(r.value or 0)):.1f}" for i, r in enumerate(points))
        parts.append(f'<polyline points="{path}" fill="none" stroke="#1f4e79" stroke-width="1.5"/>')
    for i, r in enumerate(points):
        colour = "#b00020" if not r.passed else "#8a5a00" if r.westgard else "#1f4e79"
        tip = f"{r.day.isoformat()} {_fmt(r.value)} {' '.join(r.westgard)}".strip()
        parts.append(
            f'<circle cx="{x(i):.1f}" cy="{y(float(r.value or 0)):.1f}" r="4" fill="{colour}"><title>{e(tip)}</title>'
            "</circle>"
        )
    parts.append(
        f'<text x="{CHART_WIDTH / 2:.0f}" y="{CHART_HEIGHT - 12}" font-size="12" text-anchor="middle" '
        f'fill="#1a1a1a">{e(t(_N("run")))}</text>'
    )
    parts.append(
        f'<text x="14" y="{CHART_HEIGHT / 2:.0f}" font-size="12" text-anchor="middle" fill="#1a1a1a" '
        f'transform="rotate(-90 14 {CHART_HEIGHT / 2:.0f})">{e(t(_N("control value")))}</text>'
    )
    if not points:
        parts.append(
            f'<text x="{CHART_WIDTH / 2:.0f}" y="{CHART_HEIGHT / 2:.0f}" font-size="13" text-anchor="middle" '
            f'fill="#1a1a1a">{e(t(_N("no quantitative control runs yet")))}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


# --- blind samples -------------------------------------------------------------------------------------------


def register_blind(session: Session, actor: Actor, data: BlindCreate) -> BlindSample:
    """An administrator marks a sample of the district as blind for an item, with its true outcome and value."""
    require_role(actor, Role.ADMIN)
    sample = sampling.find(session, data.sample_label_id.strip().upper(), actor.district_id)
    if sample is None:
        raise Invalid(
            "records.no_sample_your_district",
            _N("no sample {label_id!r} in your district"),
            label_id=data.sample_label_id,
        )
    item = reference_data.item(session, data.item_code)
    exists = session.exec(
        select(BlindSample).where(BlindSample.sample_id == sample.id, BlindSample.item_id == item.id)
    ).first()
    if exists is not None:
        raise Conflict(
            "qc.blind_already",
            _N("sample {label_id} is already a blind sample for item {item_code}"),
            label_id=sample.label_id,
            item_code=item.code,
        )
    blind = BlindSample(
        district_id=sample.district_id,
        sample_id=int(sample.id or 0),
        item_id=int(item.id or 0),
        true_outcome=data.true_outcome,
        true_value=data.true_value,
        true_sd=data.true_sd,
        created_by_id=int(actor.user_id or 0),
    )
    session.add(blind)
    session.flush()
    audit.record(session, actor, blind, "register_blind", None)
    return blind


def score_blind(session: Session, actor: Actor, result: TestResult) -> BlindSample | None:
    """Score the result of a blind sample when it is reviewed: agree or disagree, and the z-score
    z = (x − X) / σ (ISO 13528) when the true value and its SD are known. Nothing for another sample."""
    blind = session.exec(
        select(BlindSample).where(BlindSample.sample_id == result.sample_id, BlindSample.item_id == result.item_id)
    ).first()
    if blind is None or blind.scored_at is not None:
        return None
    before = audit.snapshot(blind)
    blind.result_id = result.id
    blind.score = "agree" if result.judgement == blind.true_outcome else "disagree"
    if result.value is not None and blind.true_value is not None and blind.true_sd:
        z = (result.value - blind.true_value) / blind.true_sd
        blind.z_score = z if math.isfinite(z) else None
    blind.scored_at = clock.now()
    session.add(blind)
    session.flush()
    audit.record(session, actor, blind, "score_blind", before)
    return blind


def refuse_publishing_blind(session: Session, result: TestResult) -> None:
    """A proficiency sample is no sample of the market: its result is scored, never released to the public."""
    blind = session.exec(
        select(BlindSample.id).where(BlindSample.sample_id == result.sample_id, BlindSample.item_id == result.item_id)
    ).first()
    if blind is not None:
        raise Conflict(
            "qc.blind_not_published",
            _N("result {result_id} is of a proficiency (blind) sample: it is scored, not published"),
            result_id=result.id,
        )


def blind_list(session: Session, actor: Actor, limit: int = 100) -> list[BlindPublic]:
    """The district's blind samples with their true values and scores (administrators only)."""
    require_role(actor, Role.ADMIN)
    rows = session.exec(
        select(BlindSample)
        .where(BlindSample.district_id == actor.district_id)
        .order_by(col(BlindSample.id).desc())
        .limit(max(1, min(limit, 1000)))
    ).all()
    samples = {
        s.id: s.label_id for s in session.exec(select(Sample).where(col(Sample.id).in_({b.sample_id for b in rows})))
    }
    items = {i.id: i.code for i in session.exec(select(TestItem))}
    results = {
        r.id: r
        for r in session.exec(
            select(TestResult).where(col(TestResult.id).in_({b.result_id for b in rows if b.result_id}))
        )
    }
    views = []
    for b in rows:
        result = results.get(b.result_id) if b.result_id else None
        views.append(
            BlindPublic(
                id=int(b.id or 0),
                sample_label_id=samples.get(b.sample_id, ""),
                item_code=items.get(b.item_id, ""),
                true_outcome=b.true_outcome,
                true_value=b.true_value,
                true_sd=b.true_sd,
                result_id=b.result_id,
                result_judgement=result.judgement if result else None,
                result_value=result.value if result else None,
                score=b.score,
                z_score=b.z_score,
                scored_at=b.scored_at,
            )
        )
    return views
