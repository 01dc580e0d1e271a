"""Submit raw data for judgement, correct results, and list results for each kind of reader."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from instrument_drivers import family_registry
from lims.i18n import _N, terms
from lims.judgement import Judgement, reasons, rounding
from lims.judgement._numbers import fmt
from lims.models import District, Instrument, KitLot, Limit, Sample, SamplingPoint, TestItem, TestResult
from lims.models.common import JudgementOutcome, ResultStatus, Role
from lims.models.instruments import CalibrationRecord
from lims.models.results import ResultCorrection, ResultPublic, ResultSubmit
from lims.services.access import districts
from lims.services.access.auth import require_role
from lims.services.core import atomic, audit, clock, dates, visibility
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, Invalid, NotFound
from lims.services.lab import instruments, qc, stock
from lims.services.reference import judging, reference_data
from lims.services.results import workflow
from lims.services.samples import sampling

FLAG_INSTRUMENT_DISAGREES = "instrument_disagrees"
FLAG_INTERFERING_SPECIES = "interfering_species"
# Flags of results stored before an expired kit lot, an instrument past calibration or a missing kit lot made
# the result invalid (no new result carries them; their texts stay for the old ones).
FLAG_CALIBRATION_OVERDUE = "calibration_overdue"
FLAG_KIT_EXPIRED = "kit_lot_expired"
FLAG_NO_KIT_LOT = "no_kit_lot"

# What each flag means, for reviewers (message ids, translated when shown).
FLAG_TEXT: dict[str, str] = {
    FLAG_INSTRUMENT_DISAGREES: _N("the instrument's own judgement differs from ours"),
    FLAG_INTERFERING_SPECIES: _N(
        "the product is a vegetable whose own substances affect the enzyme (GB/T 5009.199-2003: 葱, 蒜, 萝卜, 韭菜, "
        "芹菜, 香菜, 茭白, 蘑菇, 番茄 …), so a positive may be false; "
        "test an extract of the whole plant (整株/整体浸提) or use the surface method (表面测定法)"
    ),
    FLAG_CALIBRATION_OVERDUE: _N("instrument past its calibration due date"),
    FLAG_KIT_EXPIRED: _N("kit lot past its expiry date"),
    FLAG_NO_KIT_LOT: _N("no kit lot recorded; the item's default cut-off was used"),
}

# Where a repeat of a positive stands (TestResult.repeat_state).
REPEAT_PENDING = "pending"
REPEAT_CONFIRMED = "confirmed"
REPEAT_NOT_CONFIRMED = "not_confirmed"


@dataclass
class Lookups:
    """What the results of one instrument record share, read for the whole record at once: its samples by label
    id (their districts loaded with them), the latest result of each of those samples and items, and the
    calibration records of its instruments. Valid in the transaction that read them; `submit` keeps it current."""

    samples: dict[str, Sample] = field(default_factory=dict)
    districts: list[District] = field(default_factory=list)  # held here: the session keeps rows weakly
    latest: dict[tuple[int, int], TestResult | None] = field(default_factory=dict)
    calibrations: dict[int, list[CalibrationRecord]] = field(default_factory=dict)


_SAMPLES: Any = (
    select(Sample, District)
    .join(District, col(District.id) == col(Sample.district_id))
    .where(col(Sample.label_id).in_(sa.bindparam("labels", expanding=True)))
)
_LATEST: Any = (
    select(TestResult)
    .where(
        col(TestResult.sample_id).in_(sa.bindparam("samples", expanding=True)),
        col(TestResult.item_id).in_(sa.bindparam("items", expanding=True)),
        col(TestResult.repeat_of_id).is_(None),
    )
    .order_by(col(TestResult.id).desc())
)


def lookups(
    session: Session,
    labels: Iterable[str],
    item_ids: Iterable[int],
    *,
    samples: dict[str, Sample] | None = None,
    districts: list[District] | None = None,
) -> Lookups:
    """Read what submitting results of these samples and items looks up: the samples with their districts in one
    statement (unless given as `samples`, read so before), their latest results of the items in another."""
    found = Lookups(samples=samples or {}, districts=districts or [])
    wanted = sorted({label.strip().upper() for label in labels})
    if not wanted:
        return found
    if samples is None:
        for sample, district in session.exec(_SAMPLES, params={"labels": wanted}):
            found.samples[sample.label_id] = sample
            found.districts.append(district)
    sample_ids, items = sorted({int(s.id or 0) for s in found.samples.values()}), sorted(set(item_ids))
    if not sample_ids or not items:
        return found
    latest: dict[tuple[int, int], TestResult] = {}
    for result in session.exec(_LATEST, params={"samples": sample_ids, "items": items}):
        latest.setdefault((result.sample_id, result.item_id), result)
    found.latest = {(s, i): latest.get((s, i)) for s in sample_ids for i in items}
    return found


def _sample(session: Session, actor: Actor, label_id: str, known: Lookups | None = None) -> Sample:
    key = label_id.strip().upper()
    if known is not None and key in known.samples:
        found: Sample | None = known.samples[key]
        sample = found if found is not None and found.district_id == actor.district_id else None
    else:
        sample = sampling.find(session, label_id, actor.district_id)
    if sample is None:
        raise Invalid(
            "records.no_sample_your_district", _N("no sample {label_id!r} in your district"), label_id=label_id
        )
    return sample


def _item(session: Session, code: str) -> TestItem:
    return reference_data.item(session, code)


def _limit(session: Session, item: TestItem, sample: Sample) -> Limit:
    category = reference_data.category(session, sample.category_code)
    assert category is not None  # a sample's category is checked when it is registered
    limit: Limit | None = reference_data.cached_row(
        session,
        ("limit", item.id, category.id),
        select(Limit).where(Limit.item_id == item.id, Limit.category_id == category.id, col(Limit.retired).is_(False)),
    )
    if limit is None:
        raise Invalid(
            "records.item_tested_no_limit",
            _N("item {item_code} is not tested on {category_code} ({category_name_en}): no limit is defined"),
            item_code=item.code,
            category_code=category.code,
            category_name_en=category.name_en,
        )
    return limit


def _instrument(session: Session, actor: Actor, serial: str | None, item: TestItem) -> Instrument | None:
    if serial is None:
        return None
    instrument: Instrument | None = reference_data.cached_row(
        session, ("instrument", serial), select(Instrument).where(Instrument.serial == serial)
    )
    if instrument is None or instrument.district_id != actor.district_id:  # another district's is unknown here
        raise Invalid("records.unknown_instrument", _N("unknown instrument {serial!r}"), serial=serial)
    if family_registry.item_family(instrument.family) != item.family:
        raise Invalid(
            "records.instrument_instrument_item_needs",
            _N("instrument {serial} is a {instrument_family} instrument; item {item_code} needs {item_family}"),
            serial=serial,
            instrument_family=instrument.family,
            item_code=item.code,
            item_family=item.family,
        )
    return instrument


def _kit(session: Session, lot: str | None, item: TestItem) -> KitLot | None:
    if lot is None:
        return None
    kit: KitLot | None = reference_data.cached_row(
        session, ("kit", item.id, lot), select(KitLot).where(KitLot.item_id == item.id, KitLot.lot == lot)
    )
    if kit is None:
        raise Invalid(
            "records.unknown_kit_lot_item",
            _N("unknown kit lot {lot!r} for item {item_code}"),
            lot=lot,
            item_code=item.code,
        )
    return kit


def _local_day(session: Session, sample: Sample, tested_at: datetime) -> date:
    """The sample's district's date at `tested_at`: a kit or calibration valid "until" a day is valid all of it."""
    return clock.local_date(tested_at, clock.zone_of(session, sample.district_id))


def _flags(item: TestItem, sample: Sample, instrument_judgement: str | None, outcome: str) -> list[str]:
    """What the reviewer must look at: the instrument disagreeing with us, an interfering vegetable."""
    flags = []
    if instrument_judgement is not None and instrument_judgement != outcome:
        flags.append(FLAG_INSTRUMENT_DISAGREES)
    if judging.interfering_species(item.method, sample.product_name) is not None:
        flags.append(FLAG_INTERFERING_SPECIES)
    return flags


def _due(session: Session, instrument: Instrument, on: date, known: Lookups | None) -> date:
    if known is None:
        return instruments.due_on(session, instrument, on)
    instrument_id = int(instrument.id or 0)
    if instrument_id not in known.calibrations:
        known.calibrations[instrument_id] = instruments.calibrations(session, instrument)
    return instruments.due_from(known.calibrations[instrument_id], instrument, on)


def _valid_run(
    session: Session,
    judgement: Judgement,
    instrument: Instrument | None,
    kit: KitLot | None,
    on: date,
    known: Lookups | None = None,
) -> Judgement:
    """`judgement`, or invalid when the kit lot had expired or the instrument was past calibration on day `on`
    (the due date that held that day, from its calibration records: `instruments.due_on`).

    Neither is a flag a reviewer may wave through: a figure read with an expired reagent or an uncalibrated
    instrument is no figure (the kit's leaflet and the instrument's calibration are what the method rests on)."""
    if kit is not None and kit.expires_on < on:
        return judging.invalidated(
            judgement,
            "kit_lot_expired",
            {"lot": kit.lot, "expires_on": kit.expires_on.isoformat(), "tested_on": on.isoformat()},
        )
    due = _due(session, instrument, on, known) if instrument is not None else None
    if instrument is not None and due is not None and due < on:
        return judging.invalidated(
            judgement,
            "calibration_overdue",
            {"serial": instrument.serial, "due": due.isoformat(), "tested_on": on.isoformat()},
        )
    return judgement


def repeats_for_positive(item: TestItem) -> tuple[int, str]:
    """How many repeats the item's method asks of a positive (`method.repeats_for_positive`) and its clause."""
    count = item.method.get("repeats_for_positive", 0)
    number = count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 0
    return number, str(item.method.get("repeats_source", item.method_standard))


def _run(result: TestResult) -> dict[str, Any]:
    """One run as a consolidated result keeps it."""
    return {
        "result_id": result.id,
        "judgement": result.judgement,
        "value": result.value,
        "reported_value": result.reported_value,
        "reason_code": result.reason_code,
        "instrument_sequence": result.instrument_sequence,
        "tested_at": result.tested_at.isoformat(),
    }


def _shown(run: dict[str, Any], unit: str) -> str:
    value = run.get("reported_value") or (fmt(run["value"]) if run.get("value") is not None else "—")
    return f"{value} {unit}".strip()


def submit(
    session: Session,
    actor: Actor,
    data: ResultSubmit,
    *,
    instrument_sequence: int | None = None,
    instrument_value: float | None = None,
    instrument_judgement: str | None = None,
    raw_extra: dict[str, Any] | None = None,
    known: Lookups | None = None,
) -> TestResult:
    """Judge submitted raw data and store it as a result awaiting review (`known`: what was read for the
    instrument record it belongs to)."""
    require_role(actor, Role.TESTER)
    sample = _sample(session, actor, data.sample_label_id, known)
    item = _item(session, data.item_code)
    limit = _limit(session, item, sample)
    instrument = _instrument(session, actor, data.instrument_serial, item)
    kit = _kit(session, data.kit_lot, item)
    tested_at = (data.tested_at or clock.now()).astimezone(UTC)
    if tested_at > clock.now() + timedelta(minutes=5):
        raise Invalid("records.tested_future", _N("tested_at is in the future"))
    if tested_at < sample.collected_at - timedelta(minutes=5):
        raise Invalid("records.tested_before_sample_was", _N("tested_at is before the sample was collected"))
    day = _local_day(session, sample, tested_at)
    judgement = _valid_run(session, judging.judge(item, data.raw, limit, kit, sample), instrument, kit, day, known)
    pair = (int(sample.id or 0), int(item.id or 0))
    if known is not None and pair in known.latest:
        previous = known.latest[pair]
    else:
        previous = session.exec(
            select(TestResult)
            .where(
                TestResult.sample_id == sample.id, TestResult.item_id == item.id, col(TestResult.repeat_of_id).is_(None)
            )
            .order_by(col(TestResult.id).desc())
        ).first()
    awaiting = (
        previous is not None and previous.status == ResultStatus.TESTED and previous.repeat_state == REPEAT_PENDING
    )
    retest_of = previous if previous is not None and previous.status == ResultStatus.REJECTED else None
    result = TestResult(
        district_id=sample.district_id,
        sample_id=int(sample.id or 0),
        item_id=int(item.id or 0),
        instrument_id=instrument.id if instrument else None,
        instrument_sequence=instrument_sequence,
        kit_lot_id=kit.id if kit else None,
        channel=data.channel,
        raw={**data.raw, **(raw_extra or {}), "details": judgement.details},
        value=judgement.value,
        reported_value=_reported(judgement),
        unit=judgement.unit,
        judgement=judgement.outcome.value,
        reason_code=judgement.reason_code,
        reason_params=judgement.reason_params,
        reason=judgement.reason,
        instrument_value=instrument_value,
        instrument_judgement=instrument_judgement,
        flags=_flags(item, sample, instrument_judgement, judgement.outcome.value),
        status=ResultStatus.TESTED,
        tester_id=int(actor.user_id or 0),
        tested_at=tested_at,
        version=(retest_of.version + 1) if retest_of else 1,
        supersedes_id=retest_of.id if retest_of else None,
        correction_reason="retest after rejection" if retest_of else "",
    )
    # Everything is checked: take the test's units of a stock-tracked lot (refused when it may not be used), in
    # this transaction, and book them with the stored result's id.
    if kit is None and judging.uses_kit_lot(item.family):
        stock.require_lot(session, item, sample.district_id)
    taken = stock.consume(session, actor, kit, item, sample.district_id, day) if kit is not None else None
    if awaiting:
        assert previous is not None
        primary = _attach_repeat(session, actor, previous, result, item)
        if taken is not None:
            stock.record_use(session, actor, taken, result)
        return primary
    session.add(result)
    session.flush()
    if known is not None:  # the newest result of its sample and item now
        known.latest[pair] = result
    _ask_repeats(session, result, item)
    audit.record(session, actor, result, "submit", None)
    if taken is not None:
        stock.record_use(session, actor, taken, result)
    return result


def _reported(judgement: Judgement) -> str | None:
    shown = judgement.details.get("reported_value")
    return str(shown) if shown is not None else None


def _ask_repeats(session: Session, result: TestResult, item: TestItem) -> None:
    """A positive of an item whose method asks for repeats waits for them: it says so and cannot be approved."""
    required, source = repeats_for_positive(item)
    if required == 0 or result.judgement != JudgementOutcome.POSITIVE:
        if result.repeat_state or result.repeats_required or result.repeat_runs:
            result.repeats_required, result.repeat_runs, result.repeat_state = 0, 0, ""
            session.add(result)
            session.flush()
        return
    result.repeats_required, result.repeat_runs, result.repeat_state = required, 0, REPEAT_PENDING
    result.raw = {**result.raw, "runs": [{**_run(result), "reason_params": result.reason_params}]}
    result.reason_params = {
        "done": 0,
        "required": required,
        "source": source,
        "first": {"code": result.reason_code, "params": result.reason_params},
    }
    result.reason_code = "repeat_required"
    result.reason = reasons.reason_text(result.reason_code, result.reason_params)
    session.add(result)
    session.flush()


def _attach_repeat(session: Session, actor: Actor, primary: TestResult, run: TestResult, item: TestItem) -> TestResult:
    """Keep `run` as a repeat of `primary` and consolidate the runs into `primary`; returns `primary`.

    The rule (the runs are all kept in `primary.raw["runs"]`): an invalid repeat does not count and another is
    asked; the positive stands only if every one of the required repeats is positive as well, and then its value
    is the mean of all the runs (parallel determinations are reported as their mean); the first repeat that is
    not positive decides the result negative, with that repeat's value. A screening positive that the method's
    own repeats do not reproduce is not a finding a case may rest on."""
    run.status = ResultStatus.SUPERSEDED
    run.repeat_of_id = primary.id
    run.version, run.supersedes_id = 1, None
    run.correction_reason = f"repeat of result {primary.id}"
    session.add(run)
    session.flush()
    audit.record(session, actor, run, "submit_repeat", None)

    runs = [*primary.raw.get("runs", []), _run(run)]
    repeats = [r for r in runs[1:] if r["judgement"] != JudgementOutcome.INVALID]
    done = sum(1 for r in repeats if r["judgement"] == JudgementOutcome.POSITIVE)
    failed = next((r for r in repeats if r["judgement"] != JudgementOutcome.POSITIVE), None)
    required, source = primary.repeats_required, str(primary.reason_params.get("source", ""))
    first = primary.reason_params.get("first", {})
    values: dict[str, Any] = {
        "repeat_runs": primary.repeat_runs + 1,
        "raw": {**primary.raw, "runs": runs},
        "flags": sorted(set(primary.flags) | set(run.flags)),
    }
    shown_runs = ", ".join(_shown(r, primary.unit) for r in runs if r["judgement"] != JudgementOutcome.INVALID)
    if failed is not None:
        params: dict[str, Any] = {"runs": shown_runs, "source": source}
        values.update(
            repeat_state=REPEAT_NOT_CONFIRMED,
            judgement=JudgementOutcome.NEGATIVE.value,
            value=failed["value"],
            reported_value=failed["reported_value"],
            reason_code="repeats_not_confirmed",
        )
    elif done >= required:
        positives = [float(r["value"]) for r in runs if r["judgement"] == JudgementOutcome.POSITIVE]
        mean = math.fsum(positives) / len(positives)
        shown_mean = rounding.reported(mean, item.method) or fmt(mean)
        params = {"required": required, "runs": shown_runs, "mean": shown_mean, "unit": primary.unit}
        values.update(
            repeat_state=REPEAT_CONFIRMED,
            judgement=JudgementOutcome.POSITIVE.value,
            value=mean,
            reported_value=rounding.reported(mean, item.method),
            reason_code="repeats_confirmed",
        )
    else:
        params = {"done": done, "required": required, "source": source, "first": first}
        values["reason_code"] = "repeat_required"
    values["reason_params"] = params
    values["reason"] = reasons.reason_text(str(values["reason_code"]), params)
    before = audit.snapshot(primary)
    guard = {"status": ResultStatus.TESTED, "repeat_state": REPEAT_PENDING, "repeat_runs": primary.repeat_runs}
    if not atomic.update_where(session, primary, guard, values):
        session.rollback()
        raise Conflict(
            "records.repeat_attached_same_moment",
            _N("result {result_id} changed while this repeat was attached to it; submit the repeat again"),
            result_id=primary.id,
        )
    audit.record(session, actor, primary, "consolidate_repeat", before)
    return primary


def get_for(session: Session, actor: Actor, result_id: int) -> TestResult:
    """A result visible to the actor: own district for lab roles, published ones for station users."""
    result = session.get(TestResult, result_id)
    if result is None:
        raise NotFound("records.no_result", _N("no result {result_id}"), result_id=result_id)
    if actor.role == Role.STATION:
        if not visibility.is_public(result.status):
            raise NotFound("records.no_result", _N("no result {result_id}"), result_id=result_id)
    elif result.district_id != actor.district_id:
        raise NotFound("records.no_result", _N("no result {result_id}"), result_id=result_id)
    return result


def correct(session: Session, actor: Actor, result_id: int, correction: ResultCorrection) -> TestResult:
    """Replace a result that awaits review by a corrected version; the old one is kept as superseded."""
    require_role(actor, Role.TESTER)
    old = get_for(session, actor, result_id)
    if old.status != ResultStatus.TESTED:
        raise Conflict(
            "records.result_only_result_awaiting",
            _N("result {result_id} is {old_status}; only a result awaiting review can be corrected"),
            result_id=result_id,
            old_status=terms.status(old.status),
        )
    sample = session.get(Sample, old.sample_id)
    item = session.get(TestItem, old.item_id)
    assert sample is not None and item is not None
    if old.repeat_runs:
        raise Conflict(
            "records.result_has_repeats",
            _N("result {result_id} has repeats attached; reject it to test the sample again"),
            result_id=result_id,
        )
    kit = session.get(KitLot, old.kit_lot_id) if old.kit_lot_id else None
    instrument = session.get(Instrument, old.instrument_id) if old.instrument_id else None
    day = _local_day(session, sample, old.tested_at)
    judgement = _valid_run(
        session, judging.judge(item, correction.raw, _limit(session, item, sample), kit, sample), instrument, kit, day
    )
    workflow.transition(session, actor, old, "supersede", reason=correction.reason)
    new = TestResult(
        **{
            **old.model_dump(exclude={"id", "created_at", "published_at", "instrument_sequence"}),
            "raw": {**correction.raw, "details": judgement.details},
            "value": judgement.value,
            "reported_value": _reported(judgement),
            "unit": judgement.unit,
            "judgement": judgement.outcome.value,
            "reason_code": judgement.reason_code,
            "reason_params": judgement.reason_params,
            "reason": judgement.reason,
            "flags": _flags(item, sample, old.instrument_judgement, judgement.outcome.value),
            "status": ResultStatus.TESTED,
            "tester_id": actor.user_id,
            "version": old.version + 1,
            "supersedes_id": old.id,
            "correction_reason": correction.reason,
        }
    )
    session.add(new)
    session.flush()
    _ask_repeats(session, new, item)
    audit.record(session, actor, new, "correct", None)
    return new


def public_views(session: Session, results: list[TestResult]) -> list[ResultPublic]:
    """API views of results, with sample, item, point and instrument codes filled in."""
    if not results:
        return []
    samples = {s.id: s for s in session.exec(select(Sample).where(col(Sample.id).in_({r.sample_id for r in results})))}
    items = {i.id: i for i in session.exec(select(TestItem))}
    points = {p.id: p for p in session.exec(select(SamplingPoint))}
    instruments = {i.id: i for i in session.exec(select(Instrument))}
    waiting = [r for r in results if r.status in (ResultStatus.TESTED, ResultStatus.APPROVED)]
    held = qc.holds(session, waiting)
    views = []
    for r in results:
        sample = samples[r.sample_id]
        item = items[r.item_id]
        instrument = instruments.get(r.instrument_id) if r.instrument_id else None
        views.append(
            ResultPublic(
                id=int(r.id or 0),
                sample_label_id=sample.label_id,
                item_code=item.code,
                item_name_zh=item.name_zh,
                item_name_en=item.name_en,
                point_code=points[sample.point_id].code,
                value=r.value,
                reported_value=r.reported_value,
                unit=r.unit,
                judgement=r.judgement,
                reason=r.reason,
                reason_code=r.reason_code,
                reason_params=r.reason_params,
                status=r.status,
                flags=r.flags,
                raw=r.raw,
                instrument_serial=instrument.serial if instrument else None,
                instrument_value=r.instrument_value,
                instrument_judgement=r.instrument_judgement,
                tested_at=r.tested_at,
                published_at=r.published_at,
                version=r.version,
                supersedes_id=r.supersedes_id,
                repeats_required=r.repeats_required,
                repeat_runs=r.repeat_runs,
                repeat_state=r.repeat_state,
                repeat_of_id=r.repeat_of_id,
                qc_hold=held[int(r.id or 0)].code if int(r.id or 0) in held else None,
                qc_hold_kinds=list(held[int(r.id or 0)].kinds) if int(r.id or 0) in held else [],
            )
        )
    return views


def search(
    session: Session,
    actor: Actor,
    *,
    date_from: str | None = None,
    date_to: str | None = None,
    point_code: str | None = None,
    item_code: str | None = None,
    judgement: str | None = None,
    status: str | None = None,
    limit: int = 100,
    offset: int = 0,
    before_id: int | None = None,
) -> list[TestResult]:
    """Results the actor may see, newest first (repeat runs are listed within their result): station users see
    published results of every district. `before_id` pages by key: the results older than that one (an index
    range, however deep the page; `offset` counts rows and stays for the API's old clients)."""
    require_role(actor, Role.TESTER, Role.REVIEWER, Role.STATION, Role.ADMIN)
    # a repeat run is part of the result it repeats (kept in its runs), not a result of its own
    statement = select(TestResult).where(col(TestResult.repeat_of_id).is_(None))
    if actor.role == Role.STATION:
        statement = statement.where(visibility.public_only())
        if status and not visibility.is_public(status):
            return []
    else:
        statement = statement.where(TestResult.district_id == actor.district_id)
    if status:
        if status not in {s.value for s in ResultStatus}:
            raise Invalid("records.unknown_status", _N("unknown status {status!r}"), status=status)
        statement = statement.where(TestResult.status == status)
    if judgement:
        if judgement not in {j.value for j in JudgementOutcome}:
            raise Invalid(
                "records.unknown_judgement_use_negative",
                _N("unknown judgement {judgement!r}; use negative, positive or invalid"),
                judgement=judgement,
            )
        statement = statement.where(TestResult.judgement == judgement)
    within = dates.window(date_from, date_to, clock.zone_of(session, actor.district_id))  # the reader's days
    statement = statement.where(*within.where(col(TestResult.tested_at)))
    if item_code:
        statement = statement.where(TestResult.item_id == _item(session, item_code).id)
    if point_code:  # a point of the reader's district (codes are unique per district)
        point = districts.require_point(session, actor, point_code)
        # a point's results are its district's: the district narrows the index range before the join
        statement = statement.join(Sample).where(
            Sample.point_id == point.id, TestResult.district_id == point.district_id
        )
    if before_id is not None:
        statement = statement.where(col(TestResult.id) < before_id)
    return list(session.exec(statement.order_by(col(TestResult.id).desc()).offset(offset).limit(limit)).all())
