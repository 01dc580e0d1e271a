"""The main job end to end on demo data: reference data, users, a day of samples, results, review, publication."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any

import yaml
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from lims.i18n import _N
from lims.models import (
    FoodCategory,
    Instrument,
    KitLot,
    Limit,
    PlanTask,
    PlanVersion,
    PositiveCase,
    Sample,
    SamplingPoint,
    TestItem,
    TestResult,
    User,
)
from lims.models.cases import LabVerdict, NoticeReceipt, RetestRequest, SaleSuspension, SealNumber
from lims.models.common import JudgementOutcome, ResultStatus, Role
from lims.models.qc import ControlSubmit
from lims.models.results import ResultSubmit
from lims.models.samples import SampleCreate
from lims.services.access import accounts, auth, districts, passwords
from lims.services.cases import files, procedure
from lims.services.core import clock, schema
from lims.services.core.audit import SYSTEM, Actor
from lims.services.core.errors import Invalid, ServiceError
from lims.services.lab import qc, stock
from lims.services.reference import judging, reference_data, registry
from lims.services.results import records, workflow
from lims.services.samples import plans, sampling


def _fixtures() -> dict[str, Any]:
    """The demo's fixture data (data/world.yaml)."""
    text = resources.files("lims.services.demo").joinpath("data/world.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


_WORLD = _fixtures()
# user name: (role, password, station code)
DEMO_USERS: dict[str, tuple[str, str, str | None]] = {
    name: (Role(entry["role"]), entry["password"], entry.get("station")) for name, entry in _WORLD["users"].items()
}
# What the vehicle takes at a point, by category: product, brand, GTIN (or None for loose produce), supplier.
PRODUCTS: dict[str, list[tuple[str, str, str | None, str]]] = {
    category: [(e["product"], e.get("brand", ""), e.get("gtin"), e["supplier"]) for e in entries]
    for category, entries in _WORLD["products"].items()
}
# Categories each kind of point sells.
POINT_CATEGORIES: dict[str, list[str]] = _WORLD["point_categories"]
POSITIVE_RATE = float(_WORLD["positive_rate"])
# Positives walked along the legal path at the station account's point: category, laboratory, outcomes.
LEGAL_PATH: dict[str, Any] = _WORLD["legal_path"]
# The procedure's steps that bring a fresh case to each demo outcome (a lab finding after a retest request).
_OUTCOMES: dict[str, str | None] = {"open": None, "cleared": "not_confirmed", "confirmed": "confirmed"}


def _demo_report(title: str) -> bytes:
    """A one-page PDF standing in for a laboratory's report (the demo has no laboratory to write one)."""
    text = title.encode("ascii", "replace")
    stream = b"BT /F1 14 Tf 72 760 Td (" + text + b") Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


@dataclass
class DemoSummary:
    """What the demo did, for the console and `--json`."""

    samples: int = 0
    results: int = 0
    positives: int = 0
    published: int = 0
    rejected: int = 0
    cases: int = 0
    days: int = 1
    plan_day: str | None = None
    trace_codes: list[str] = field(default_factory=list)
    users: dict[str, str] = field(default_factory=dict)
    # Each account's role (and station), for the console: who to sign in as to see what.
    accounts: dict[str, str] = field(default_factory=dict)
    # Label ids of the legal-path positives by outcome (open, cleared, confirmed): their public pages.
    case_examples: dict[str, str] = field(default_factory=dict)
    # Units each kit lot gave to the tests of this run (one card per gold test, repeats included).
    stock_used: dict[str, int] = field(default_factory=dict)
    # Quality control: control runs recorded, how many failed, and the results they held until a control passed.
    controls: int = 0
    qc_failed: int = 0
    held_results: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The summary as plain data."""
        return dict(self.__dict__)


@dataclass
class _Reference:
    points: list[SamplingPoint]
    items_by_category: dict[str, list[tuple[TestItem, Limit]]]
    kits: dict[int, KitLot]


def _reference(session: Session) -> _Reference:
    categories = {c.id: c.code for c in session.exec(select(FoodCategory))}
    items = {i.id: i for i in session.exec(select(TestItem))}
    by_category: dict[str, list[tuple[TestItem, Limit]]] = {}
    for limit in session.exec(select(Limit).where(col(Limit.retired).is_(False))):
        by_category.setdefault(categories[limit.category_id], []).append((items[limit.item_id], limit))
    today = clock.local_today(districts.named_or_first(session, None))
    kits = {k.item_id: k for k in session.exec(select(KitLot)) if k.expires_on >= today}
    points = [p for p in session.exec(select(SamplingPoint).order_by(SamplingPoint.code)) if p.kind in POINT_CATEGORIES]
    return _Reference(points, by_category, kits)


# The lab orders cards in deliveries of this many (ten boxes of 50) and orders again, before a day's work, when a
# lot has fewer left than a busy day uses.
DELIVERY = 500
REORDER_BELOW = 300


def _stock_up(session: Session, admin: Actor, ref: _Reference, day: date) -> None:
    """Before a day's work: every kit lot the demo uses is in stock and accepted, with enough for the day."""
    for kit in ref.kits.values():
        lot_id = int(kit.id or 0)
        held = stock.holding_of(session, int(admin.district_id or 0), lot_id)
        if held is not None and held.remaining >= REORDER_BELOW:
            continue
        stock.receive(session, admin, lot_id, DELIVERY, received_on=day, min_units=50, note="demo delivery")
        if held is None:
            stock.accept(session, admin, lot_id, True, "negative and positive control cards read as the leaflet says")


def _instruments(session: Session, district_id: int | None) -> dict[str, str]:
    """family → serial of the district's instrument the demo measures that family's items on."""
    found: dict[str, str] = {}
    rows = session.exec(
        select(Instrument).where(Instrument.district_id == district_id).order_by(col(Instrument.serial))
    )
    for instrument in rows:
        found.setdefault(instrument.family, instrument.serial)
    return found


def ensure_users(session: Session) -> dict[str, User]:
    """The demo's users, created when missing (their passwords are published: see `foreign_data`)."""
    users = {}
    for name, (role, password, station) in DEMO_USERS.items():
        user = session.exec(select(User).where(User.username == name)).first()
        users[name] = user or auth.add_user(
            session,
            SYSTEM,
            name,
            role,
            password,
            station_code=station,
            full_name=f"Demo {role}",
            published_password_ok=True,
        )
    return users


def _demo_made(username: str, role: str, password_hash: str, active: bool) -> bool:
    """Whether an account is one the demo makes: a demo account with its published password, or the
    instrument gateway (which cannot sign in)."""
    if accounts.is_gateway(username):
        return not active
    demo = DEMO_USERS.get(username)
    return demo is not None and demo[0] == role and passwords.verify(password_hash, demo[1])


def foreign_data(engine: Engine) -> str | None:
    """Why the database holds data other than a previous demo's, or None: the demo adds accounts whose
    passwords are published, so it must not add them to a database in real use."""
    tables = set(inspect(engine).get_table_names())
    if "app_user" not in tables:
        return None
    with Session(engine) as session:
        accounts = session.exec(select(User.username, User.role, User.password_hash, User.active)).all()
        others = sorted(name for name, role, hashed, active in accounts if not _demo_made(name, role, hashed, active))
        if others:
            shown = ", ".join(others[:3]) + (", …" if len(others) > 3 else "")
            return f"the database holds {len(others)} account(s) that the demo did not make ({shown})"
        if not accounts and "sample" in tables and session.exec(select(Sample.id).limit(1)).first() is not None:
            return "the database holds samples that the demo did not register"
    return None


@dataclass(frozen=True)
class _Visit:
    """One sample to take: where, what kind of food, when, and the plan task it fulfils."""

    point: str
    category: str
    at: datetime
    task_ref: str | None = None


# The demo's last day is today once this much of the local day has passed, else yesterday.
EARLIEST_DAY_SHOWN = timedelta(hours=10)


def _rotation(ref: _Reference, day_start: datetime, samples: int, minutes_apart: int = 25) -> list[_Visit]:
    """A day of work without a plan: exactly `samples` samples, spread over every point, its usual
    categories in turn, the first visit an hour after `day_start`."""
    visits = []
    for index, point in enumerate(ref.points):
        share = samples // len(ref.points) + (1 if index < samples % len(ref.points) else 0)
        categories = POINT_CATEGORIES[point.kind]
        arrival = day_start + timedelta(hours=1, minutes=minutes_apart * index)
        visits += [
            _Visit(point.code, categories[(n + index) % len(categories)], arrival + timedelta(minutes=3 * n))
            for n in range(share)
        ]
    return visits


def _from_plan(tasks: list[PlanTask], points: dict[int, str], day_start: datetime) -> list[_Visit]:
    """The day sheet's tasks in route order, each batch one sample registered against its task."""
    visits = []
    for index, task in enumerate(sorted(tasks, key=lambda t: t.route)):
        arrival = day_start + timedelta(hours=1, minutes=30 * index)
        batches = [c for c, n in sorted(task.batches.items()) for _ in range(n)]
        visits += [
            _Visit(points[task.point_id], c, arrival + timedelta(minutes=3 * k), plans.task_ref(task))
            for k, c in enumerate(batches)
        ]
    return visits


@dataclass(frozen=True)
class Measurement:
    """One test the demo has an instrument run: the sample, the item, its family, the outcome to show, and
    the instrument of the reference data that measures it."""

    sample_label_id: str
    item_code: str
    family: str
    outcome: str  # negative | positive
    instrument_serial: str


# Runs the measurements on instruments and stores what they send (the CLI starts simulators for it).
InstrumentRun = Callable[[list[Measurement]], None]


def _record_control(
    session: Session, tester: Actor, item: TestItem, kit: KitLot | None, kind: str, passing: bool, at: datetime,
    rng: random.Random, summary: DemoSummary,
) -> None:  # fmt: skip
    figures = qc.example_raw(session, item, kind, kit, passing, rng)
    data = ControlSubmit.model_validate(
        {"item_code": item.code, "kit_lot": kit.lot if kit else None, "kind": kind, "raw": figures, "tested_at": at}
    )
    run = qc.record(session, tester, data)
    summary.controls += 1
    summary.qc_failed += 0 if run.passed else 1


def _day_controls(engine: Engine, ref: _Reference, tester: Actor, at: datetime, rng: random.Random,
                  summary: DemoSummary) -> None:  # fmt: skip
    """The day's controls, before the first sample: every kind each tested item's method asks for, on its lot. One
    positive control card fails (it reads negative): that lot's results wait until the control is repeated."""
    failing = None
    with Session(engine, expire_on_commit=False) as session:
        items = {int(i.id or 0): i for tests in ref.items_by_category.values() for i, _limit in tests}
        for item_id, item in sorted(items.items()):
            kit = ref.kits.get(item_id)
            if kit is None and judging.uses_kit_lot(item.family):
                continue  # no lot in date: its results are invalid anyway
            for rule in qc.rules().controls(item.family):
                fails = failing is None and item.family == "gold" and rule.kind == "positive"
                failing = item.code if fails else failing
                _record_control(session, tester, item, kit, rule.kind, not fails, at, rng, summary)
        session.commit()


def _release(session: Session, tester: Actor, result: TestResult, summary: DemoSummary, counted: bool) -> None:
    """A result held by quality control: the tester repeats the controls that failed or are missing (they pass)."""
    hold = qc.hold_of(session, result)
    if hold is None:
        return
    summary.held_results += 0 if counted else 1
    item = session.get(TestItem, result.item_id)
    kit = session.get(KitLot, result.kit_lot_id) if result.kit_lot_id else None
    assert item is not None
    rng = random.Random(int(result.id or 0))
    tested = result.tested_at if result.tested_at.tzinfo else result.tested_at.replace(tzinfo=UTC)
    repeated = min(tested + timedelta(minutes=1), clock.now())  # on the result's day, which may be yesterday
    for kind in hold.kinds:
        _record_control(session, tester, item, kit, kind, True, repeated, rng, summary)


def _review(
    session: Session,
    reviewer: Actor,
    result: TestResult,
    summary: DemoSummary,
    tester: Actor,
    held_counted: bool = False,
) -> bool:
    """The reviewer's decision on one result; True when it was published. A result its controls hold waits for the
    tester to repeat them (`held_counted`: the held results were counted before the review began)."""
    summary.results += 1
    if result.judgement != JudgementOutcome.INVALID:
        _release(session, tester, result, summary, held_counted)
    if result.judgement == JudgementOutcome.INVALID:
        workflow.transition(session, reviewer, result, "reject", reason="invalid run; retest the sample")
        summary.rejected += 1
        return False
    workflow.transition(session, reviewer, result, "approve", acknowledge_flags=True)
    workflow.transition(session, reviewer, result, "publish")
    summary.published += 1
    if result.judgement == JudgementOutcome.POSITIVE:
        summary.positives += 1
        summary.cases += 1
    return True


def _register(session: Session, tester: Actor, visit: _Visit, rng: random.Random) -> Sample:
    product, brand, gtin, supplier = rng.choice(PRODUCTS[visit.category])
    return sampling.register(
        session,
        tester,
        SampleCreate(
            point_code=visit.point,
            product_name=product,
            category_code=visit.category,
            brand=brand,
            gtin=gtin,
            batch=f"{visit.at:%Y%m%d}{rng.randint(1, 9)}",
            supplier=supplier,
            quantity=round(rng.uniform(0.5, 3), 1),
            collected_at=visit.at,
            task_ref=visit.task_ref,
        ),
    )


def _note_codes(sample: Sample, summary: DemoSummary) -> None:
    summary.trace_codes.append(sample.label_id)
    ean13 = sample.gtin[1:] if sample.gtin and sample.gtin.startswith("0") else sample.gtin
    if ean13 and ean13 not in summary.trace_codes:
        summary.trace_codes.append(ean13)


def _work(
    session: Session,
    ref: _Reference,
    tester: Actor,
    reviewer: Actor,
    visits: list[_Visit],
    rng: random.Random,
    summary: DemoSummary,
    *,
    note_codes: bool = False,
) -> None:
    """Register each visit's sample, submit hand-made readings, review and publish."""
    for visit in visits:
        sample = _register(session, tester, visit, rng)
        summary.samples += 1
        published = False
        for item, limit in ref.items_by_category.get(visit.category, []):
            kit = ref.kits.get(int(item.id or 0))
            result = _measured(session, tester, sample, item, limit, kit, rng.random() < POSITIVE_RATE, visit.at, rng)
            published = _review(session, reviewer, result, summary, tester) or published
        if note_codes and published:
            _note_codes(sample, summary)


def _work_on_instruments(
    engine: Engine,
    ref: _Reference,
    tester: Actor,
    reviewer: Actor,
    visits: list[_Visit],
    rng: random.Random,
    summary: DemoSummary,
    instruments: InstrumentRun,
) -> None:
    """The shown day: register the samples, let the instruments measure them, then review and publish."""
    registered: list[Sample] = []
    measurements: list[Measurement] = []
    with Session(engine, expire_on_commit=False) as session:
        serials = _instruments(session, tester.district_id)
        for visit in visits:
            sample = _register(session, tester, visit, rng)
            registered.append(sample)
            for item, _limit in ref.items_by_category.get(visit.category, []):
                # A few positives whatever the seed.
                outcome = "positive" if len(measurements) % 13 == 6 else "negative"
                serial = serials.get(item.family)
                if serial is None:
                    raise Invalid(
                        "demo.no_instrument",
                        _N("the reference data have no {family} instrument to measure {item_code} on"),
                        family=item.family,
                        item_code=item.code,
                    )
                measurements.append(Measurement(sample.label_id, item.code, item.family, outcome, serial))
                if outcome == "positive":  # the repeats the method asks of a positive, measured after it
                    repeats = records.repeats_for_positive(item)[0]
                    measurements += [Measurement(sample.label_id, item.code, item.family, outcome, serial)] * repeats
        session.commit()
    summary.samples += len(registered)
    instruments(measurements)
    with Session(engine, expire_on_commit=False) as session:
        waiting = session.exec(
            select(TestResult).where(
                col(TestResult.sample_id).in_([s.id for s in registered]), TestResult.status == ResultStatus.TESTED
            )
        ).all()
        summary.held_results += len(qc.holds(session, list(waiting)))
        for sample in registered:
            stored = session.exec(
                select(TestResult).where(TestResult.sample_id == sample.id, TestResult.status == ResultStatus.TESTED)
            ).all()
            if [_review(session, reviewer, result, summary, tester, True) for result in stored].count(True):
                _note_codes(sample, summary)
        session.commit()


def _measured(
    session: Session,
    tester: Actor,
    sample: Sample,
    item: TestItem,
    limit: Limit,
    kit: KitLot | None,
    positive: bool,
    at: datetime,
    rng: random.Random,
) -> TestResult:
    """A hand-made reading of `item` on `sample` 40 minutes after `at`, with the repeats its method asks of a
    positive (measured ten minutes later), consolidated into one result."""
    tested_at, want = at + timedelta(minutes=40), positive
    while True:
        result = records.submit(
            session,
            tester,
            ResultSubmit(
                sample_label_id=sample.label_id,
                item_code=item.code,
                raw=judging.example_raw(item, limit, kit, want, rng, sample),
                kit_lot=kit.lot if kit else None,
                tested_at=tested_at,
            ),
        )
        if result.repeat_state != records.REPEAT_PENDING:
            return result
        tested_at, want = at + timedelta(minutes=50), True  # the method's repeats of a positive confirm it


def _legal_path(
    engine: Engine,
    ref: _Reference,
    tester: Actor,
    reviewer: Actor,
    station: Actor,
    rng: random.Random,
    summary: DemoSummary,
) -> None:
    """Positives at the station account's own point walked along the legal path (LEGAL_PATH): one left open,
    so that the station has a case to follow up, and the others taken to a qualified laboratory's finding."""
    category = str(LEGAL_PATH["category"])
    point = next((p for p in ref.points if p.station_id == station.station_id), None)
    tests = ref.items_by_category.get(category, [])
    if point is None or not tests:
        return  # reference data edited so that the station has no point or the category no item
    item, limit = tests[0]
    kit = ref.kits.get(int(item.id or 0))
    start = clock.now() - timedelta(hours=2)
    with Session(engine, expire_on_commit=False) as session:
        for index, outcome in enumerate(LEGAL_PATH["cases"]):
            sample = _register(session, tester, _Visit(point.code, category, start + timedelta(minutes=5 * index)), rng)
            summary.samples += 1
            result = _measured(
                session, tester, sample, item, limit, kit, True, start + timedelta(minutes=5 * index - 10), rng
            )
            if not _review(session, reviewer, result, summary, tester) or result.judgement != JudgementOutcome.POSITIVE:
                continue
            _note_codes(sample, summary)
            summary.case_examples[str(outcome)] = sample.label_id
            finding = _OUTCOMES[str(outcome)]
            case = session.exec(select(PositiveCase).where(PositiveCase.result_id == result.id)).first()
            if case is None:
                continue
            case_id = int(case.id or 0)
            party = LEGAL_PATH["party"]
            procedure.deliver_notice(
                session,
                tester,
                case_id,
                NoticeReceipt.model_validate(
                    {"delivery": "in_person", "recipient": party["name"], "recipient_role": party["role"]}
                ),
            )
            procedure.suspend_sale(session, tester, case_id, SaleSuspension(confirmed_by=str(party["name"])))
            if finding is None:
                continue
            seal = f"{LEGAL_PATH['seal_prefix']}{sample.label_id}"
            procedure.seal_sample(session, tester, case_id, SealNumber(seal_number=seal))
            procedure.request_retest(
                session, station, case_id, RetestRequest(lab=str(LEGAL_PATH["lab"]), seal_number=seal)
            )
            verdict = LabVerdict.model_validate(
                {**LEGAL_PATH["verdicts"][finding], "lab": LEGAL_PATH["lab"], "outcome": finding}
            )
            report = files.Upload(_demo_report(f"Demo laboratory report {verdict.report_number}"), "report.pdf")
            procedure.record_verdict(session, reviewer, case_id, verdict, report)
        session.commit()


def _plan_day(session: Session, tester: Actor, today: date, capacity: int) -> tuple[date, list[PlanTask]] | None:
    """The last vehicle day up to today and its day sheet (the day's visits, then overdue visits carried to
    it), filled up to the vehicle's capacity; the month's plan is generated when missing."""
    month = f"{today:%Y-%m}"
    try:
        if not session.exec(select(PlanVersion.id).where(PlanVersion.month == month)).first():
            plans.generate(session, SYSTEM, plans.load(), month)
            session.commit()
    except ServiceError:  # e.g. a year the holiday calendar does not know yet
        return None
    days = session.exec(
        select(col(PlanTask.day)).join(PlanVersion).where(PlanVersion.month == month, col(PlanTask.day) <= today)
    ).all()
    if not days:
        return None
    day = max(days)
    chosen, samples_due = [], 0
    for entry in plans.day_sheet(session, tester, day):
        if entry.kind != "planned" or samples_due >= capacity:
            continue
        chosen.append(entry.id)
        samples_due += sum(entry.batches.values())
    tasks = [session.get(PlanTask, task_id) for task_id in chosen]
    return day, [t for t in tasks if t is not None]


def run_demo(
    engine: Engine,
    *,
    days: int = 1,
    samples_per_day: int = 30,
    seed: int = 12315,
    progress: Callable[[int, int], None] | None = None,
    instruments: InstrumentRun | None = None,
) -> DemoSummary:
    """Load reference data and users, then do `days` days of work ending today (yesterday before 10:00 local time,
    so that no work lies after now); each day in one transaction."""
    rng = random.Random(seed)
    summary = DemoSummary(days=days)
    with Session(engine, expire_on_commit=False) as session:
        reference_data.load_reference(session, SYSTEM)
        registry.load_samples(session, SYSTEM)
        users = ensure_users(session)
        session.commit()
        ref = _reference(session)
    tester, reviewer = auth.actor_for(users["tester"]), auth.actor_for(users["reviewer"])
    station, admin = auth.actor_for(users["station"]), auth.actor_for(users["admin"])
    now = clock.now()
    with Session(engine) as session:
        tz = clock.zone_of(session, tester.district_id)
    today = clock.local_date(now, tz)
    midnight = clock.day_bounds(today, tz)[0]
    if now - midnight < EARLIEST_DAY_SHOWN:
        # Before the working day has room for a round of visits (the small hours), the last day shown is
        # yesterday, so that no sample is collected or tested after now.
        today -= timedelta(days=1)
        midnight = clock.day_bounds(today, tz)[0]
    shown_today = now - midnight < timedelta(days=1)
    day_start = max(now - timedelta(hours=7), midnight) if shown_today else midnight + timedelta(hours=7)
    with Session(engine, expire_on_commit=False) as session:
        used_before = stock.units_by_tests(session, int(tester.district_id or 0))
        _stock_up(session, admin, ref, today - timedelta(days=min(days - 1, 365)))
        session.commit()
    for back in range(days - 1, 0, -1):
        with Session(engine, expire_on_commit=False) as session:
            _stock_up(session, admin, ref, today - timedelta(days=min(back, 365)))
            visits = _rotation(ref, midnight - timedelta(days=back), max(samples_per_day, 200))
            _work(session, ref, tester, reviewer, visits, rng, summary)
            session.commit()
        if progress:
            progress(days - back, days)
    # The last day follows the plan's day sheet, and its readings come from the instruments.
    with Session(engine, expire_on_commit=False) as session:
        _stock_up(session, admin, ref, today)
        session.commit()
    with Session(engine, expire_on_commit=False) as session:
        planned = _plan_day(session, tester, today, samples_per_day)
        points = {int(p.id or 0): p.code for p in session.exec(select(SamplingPoint))}
    if planned is not None:
        day, tasks = planned
        start = day_start if day == today else clock.day_bounds(day, tz)[0]
        summary.plan_day = day.isoformat()
        visits = _from_plan(tasks, points, start)
        # A light plan day (one visit of a few batches) is topped up with unplanned samples after the
        # route, so that the demo shows a full day whatever the date.
        if len(visits) < samples_per_day:
            after = max(v.at for v in visits) if visits else start
            top_up = min(after + timedelta(minutes=10), now - timedelta(hours=2)) - timedelta(hours=1)
            visits += _rotation(ref, top_up, samples_per_day - len(visits), minutes_apart=10)
    else:
        visits = _rotation(ref, day_start, samples_per_day)
    _day_controls(engine, ref, tester, visits[0].at if visits else day_start, rng, summary)
    if instruments is not None:
        _work_on_instruments(engine, ref, tester, reviewer, visits, rng, summary, instruments)
    else:
        with Session(engine, expire_on_commit=False) as session:
            _work(session, ref, tester, reviewer, visits, rng, summary, note_codes=True)
            session.commit()
    _legal_path(engine, ref, tester, reviewer, station, rng, summary)
    with Session(engine) as session:
        used_after = stock.units_by_tests(session, int(tester.district_id or 0))
    summary.stock_used = {
        lot: units - used_before.get(lot, 0)
        for lot, units in sorted(used_after.items())
        if units > used_before.get(lot, 0)
    }
    if progress:
        progress(days, days)
    schema.analyze(engine)
    summary.users = {name: password for name, (_role, password, _s) in DEMO_USERS.items()}
    summary.accounts = {
        name: f"{role} {station_code}" if station_code else str(role)
        for name, (role, _password, station_code) in DEMO_USERS.items()
    }
    return summary
