"""Public traceability: what was tested and found for a sample label id or a product code."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple, TypeVar, cast

from sqlalchemy import and_, bindparam, func, select
from sqlmodel import Session, col

from barcodes.authenticate import authenticate
from barcodes.gs1 import CodeError, ParsedCode, parse_code
from lims.i18n import _N, render, render_message
from lims.judgement.detection import detection_limit
from lims.judgement.units import CONTENT_UNITS_MG_PER_KG, normalise_unit
from lims.models import AuditChain, FoodCategory, Limit, PublicWarning, Sample, SamplingPoint, TestItem, TestResult
from lims.models.common import CaseState
from lims.models.trace import (
    Finding,
    TracedMark,
    TracedProduct,
    TracedResult,
    TracedSample,
    TracedWarning,
    TraceRecord,
)
from lims.services.cases import warnings
from lims.services.core import clock, visibility
from lims.services.core.bounded import SegmentedCache
from lims.services.core.errors import Invalid, NotFound, ServiceError
from lims.services.public import states
from lims.services.reference import registry
from lims.services.reference.gtin import refusal as gs1_refusal
from lims.services.samples.label_ids import label_id_problem, looks_like_label_id

# Plain-language meaning of each screening outcome; the trace JSON carries it in both languages.
MEANING: dict[str, str] = {
    "negative": _N("Negative: this quick test found no problem"),
    "positive": _N("Suspected positive: the quick test indicates a possible problem; a laboratory confirms it"),
    "invalid": _N("Invalid: the test did not work and is repeated"),
}
MAX_CODE_LENGTH = 512
T = TypeVar("T")


def _result_statement(condition: Any) -> Any:
    """Published results with item, point and limit, newest first (built once, reused with parameters)."""
    return (
        select(
            col(TestResult.id).label("result_id"),
            col(TestResult.judgement),
            col(TestResult.raw),
            col(TestResult.value),
            col(TestResult.reported_value),
            col(TestResult.unit),
            col(TestResult.tested_at),
            col(TestResult.published_at),
            col(Sample.label_id),
            col(Sample.batch),
            col(Sample.product_name),
            col(Sample.brand),
            col(Sample.gtin),
            col(Sample.category_code),
            col(Sample.collected_at),
            col(TestItem.code),
            col(TestItem.name_zh),
            col(TestItem.name_en),
            col(TestItem.method_standard),
            col(TestItem.method),
            col(TestItem.unit).label("item_unit"),
            col(SamplingPoint.name),
            col(SamplingPoint.name_en).label("point_name_en"),
            col(Limit.limit),
            col(Limit.unit).label("limit_unit"),
            col(Limit.source),
        )
        .join(Sample, col(Sample.id) == col(TestResult.sample_id))
        .join(TestItem, col(TestItem.id) == col(TestResult.item_id))
        .join(SamplingPoint, col(SamplingPoint.id) == col(Sample.point_id))
        .join(FoodCategory, col(FoodCategory.code) == col(Sample.category_code))
        .outerjoin(
            Limit, and_(col(Limit.item_id) == col(TestResult.item_id), col(Limit.category_id) == col(FoodCategory.id))
        )
        .where(condition, visibility.public_only())
        .order_by(col(TestResult.tested_at).desc())
        .limit(MAX_RESULTS)
    )


MAX_RESULTS = 200
RESULTS_OF_LABEL = _result_statement(col(Sample.label_id) == bindparam("label_id"))
RESULTS_OF_GTIN = _result_statement(col(Sample.gtin) == bindparam("gtin"))


def _results(session: Session, statement: Any, params: dict[str, Any]) -> list[TracedResult]:
    return _as_results(session, session.connection().execute(statement, params).all())


def _as_results(session: Session, rows: Any) -> list[TracedResult]:
    """The public view of result rows, each positive with the state of its case, each with its screening note."""
    cases = states.case_states(session, [r.result_id for r in rows if r.judgement == "positive"])
    return [_as_result(r, cases.get(r.result_id)) for r in rows]


def _as_result(r: Any, case: CaseState | None) -> TracedResult:
    described = states.described(case)
    meaning_zh = described["case_meaning_zh"] or render(MEANING[r.judgement], "zh")
    meaning_en = described["case_meaning_en"] or render(MEANING[r.judgement], "en")
    limit, limit_unit = detection_limit(r.raw, r.method, r.item_unit)
    return TracedResult(
        sample_label_id=r.label_id,
        item_code=r.code,
        item_name_zh=r.name_zh,
        item_name_en=r.name_en,
        judgement=r.judgement,
        meaning_zh=meaning_zh,
        meaning_en=meaning_en,
        value=r.value,
        reported_value=r.reported_value,
        unit=r.unit,
        limit=r.limit,
        limit_unit=r.limit_unit or "",
        limit_source=r.source or "",
        method_standard=r.method_standard,
        point_name=r.name,
        point_name_en=r.point_name_en,
        batch=r.batch,
        tested_at=r.tested_at,
        published_at=r.published_at,
        **states.screening(limit, limit_unit),
        **described,
    )


def _warnings(rows: list[PublicWarning]) -> list[TracedWarning]:
    return [
        TracedWarning(id=int(w.id or 0), title_zh=w.title_zh, title_en=w.title_en, published_at=w.published_at)
        for w in rows
    ]


class HeadMemo:
    """Values computed once per state of the database (the audit head) and reused until it changes.

    Bounded: a flood of distinct keys (random product codes) keeps at most ``MEMO_ENTRIES`` values."""

    def __init__(self, max_entries: int = 4096) -> None:
        self.head = ""
        self.max_entries = max_entries
        self.values: SegmentedCache[Any, Any] = SegmentedCache(max_entries, 1 << 62)
        self._lock = threading.Lock()

    def at(self, head: str) -> HeadMemo:
        """This memo, emptied if the database has changed since it was filled."""
        with self._lock:
            if head != self.head:
                self.head = head
                self.values = SegmentedCache(self.max_entries, 1 << 62)
        return self

    def get(self, key: Any, compute: Callable[[], T]) -> T:
        """The value for `key`, computed on first use."""
        values = self.values
        hit = values.get(key)
        if hit is None:
            hit = (compute(),)
            values.put(key, hit)
        return cast(T, hit[0])


def _computed(memo: HeadMemo | None, key: Any, compute: Callable[[], T]) -> T:
    return compute() if memo is None else memo.get(key, compute)


def _relevant_warnings(
    session: Session, memo: HeadMemo | None, gtin14: str | None, items: set[str]
) -> list[TracedWarning]:
    in_force = _computed(memo, "warnings", lambda: warnings.in_force(session))
    return _warnings(warnings.relevant(in_force, gtin14=gtin14, item_codes=items))


# The public's answer for a label id with nothing published: the same for unknown and unpublished samples.
UNPUBLISHED = _N("there are no published results for label id {label_id}")


def unpublished_reason(label_id: str) -> str:
    """The public's answer for a label id with nothing published, in English."""
    return UNPUBLISHED.format(label_id=label_id)


def trace_sample(session: Session, label_id: str, memo: HeadMemo | None = None) -> TraceRecord:
    """A sample's published results by its label id (404 alike for an unknown and an unpublished sample)."""
    problem = label_id_problem(label_id)
    if problem:
        raise Invalid("trace.label_id", _N("{problem}"), problem=problem)
    rows = session.connection().execute(RESULTS_OF_LABEL, {"label_id": label_id}).all()
    if not rows:
        # One answer whether or not the sample exists: the public must not learn which label ids are
        # taken, nor that a sample is waiting for review. Staff see their samples on their own pages.
        raise NotFound("trace.unpublished", UNPUBLISHED, label_id=label_id)
    results = _as_results(session, rows)
    row = rows[0]
    traced = TracedSample(
        label_id=row.label_id,
        product_name=row.product_name,
        brand=row.brand,
        gtin=row.gtin,
        batch=row.batch,
        category_code=row.category_code,
        point_name=row.name,
        point_name_en=row.point_name_en,
        collected_at=row.collected_at,
    )
    product: TracedProduct | None = None
    marks: list[TracedMark] = []
    findings: list[Finding] = []
    if row.gtin:
        product, marks, findings = _computed(
            memo,
            ("authenticity", row.gtin, row.brand),
            lambda: _authenticity(session, parse_code(row.gtin), row.brand or None),
        )
    own, look_alikes = split_marks(marks, product, row.brand or None)
    return TraceRecord(
        code=label_id,
        kind="sample",
        gtin=row.gtin,
        sample=traced,
        product=product,
        trademarks=own,
        look_alikes=look_alikes,
        findings=findings,
        results=results,
        warnings=_relevant_warnings(session, memo, row.gtin, {r.item_code for r in results}),
    )


def _traced_mark(m: Any) -> TracedMark:
    return TracedMark(
        registration_no=m.registration_no, mark=m.mark, owner=m.owner, status=m.status, valid_to=m.valid_to
    )


def own_marks(marks: list[TracedMark], owners: list[str], mark_text: str | None) -> list[TracedMark]:
    """The product's own marks: those its brand owner or maker holds, or (with no registered product) the
    package's mark itself. Everything else the registry matched only resembles the mark."""
    held = {o for o in owners if o}
    if held:
        return [m for m in marks if m.owner in held]
    return [m for m in marks if mark_text and m.mark == mark_text.strip()]


def split_marks(
    marks: list[TracedMark], product: TracedProduct | None, mark_text: str | None
) -> tuple[list[TracedMark], list[TracedMark]]:
    """(own marks, look-alikes): a look-alike is never shown as the product's trademark."""
    owners = [product.brand_owner, product.company] if product else []
    own = own_marks(marks, owners, mark_text)
    numbers = {m.registration_no for m in own}
    return own, [m for m in marks if m.registration_no not in numbers]


def _authenticity(
    session: Session, parsed: ParsedCode, package_mark: str | None
) -> tuple[TracedProduct | None, list[TracedMark], list[Finding]]:
    """The registered product, the marks that matter for it, and the authenticity findings."""
    gtin14 = parsed.gtin.gtin14 if parsed.gtin else None
    product = registry.product(session, gtin14) if gtin14 else None
    mark_text = package_mark or (product.brand if product else None)
    marks = registry.marks_for(
        session, owners=[product.brand_owner, product.company] if product else [], mark=mark_text
    )
    findings = authenticate(
        parsed,
        product,
        marks,
        claimed_origin=product.origin if product else None,
        package_mark=mark_text,
        today=clock.local_today(),  # the public's day: the default zone
    )
    traced = TracedProduct.model_validate({**product.to_dict(), "gtin": product.gtin14}) if product else None
    return (
        traced,
        [_traced_mark(m) for m in marks],
        [
            Finding(
                code=f.code,
                severity=f.severity,
                message_zh=render_message(f.message, "zh"),
                message_en=render_message(f.message, "en"),
            )
            for f in findings
        ],
    )


def trace_gs1(session: Session, parsed: ParsedCode, memo: HeadMemo | None = None) -> TraceRecord:
    """A product code (GTIN, GS1 element string or Digital Link): product, authenticity, published results."""
    if parsed.gtin is None:
        raise Invalid("trace.gs1_code_carries_no", _N("the GS1 code carries no GTIN, so it names no product"))
    gtin14 = parsed.gtin.gtin14
    product, marks, findings = _computed(
        memo, ("authenticity", gtin14, None), lambda: _authenticity(session, parsed, None)
    )
    results = _results(session, RESULTS_OF_GTIN, {"gtin": gtin14})
    active = _relevant_warnings(session, memo, gtin14, set())
    if not results and not active and product is None:
        raise NotFound(
            "trace.we_know_nothing_about",
            _N("we know nothing about GTIN {gtin14} yet"),
            details={"gtin": gtin14, "findings": [f.model_dump() for f in findings]},
            gtin14=gtin14,
        )
    own, look_alikes = split_marks(marks, product, None)
    return TraceRecord(
        code=parsed.text,
        kind=parsed.kind.value,
        gtin=gtin14,
        lot=parsed.lot,
        product=product,
        trademarks=own,
        look_alikes=look_alikes,
        findings=findings,
        results=results,
        warnings=active,
    )


def trace(session: Session, code: str, memo: HeadMemo | None = None) -> TraceRecord:
    """Trace any supported code: a sample label id, a GTIN-8/12/13/14, a GS1 element string or Digital Link."""
    code = code.strip()
    if not code or len(code) > MAX_CODE_LENGTH:
        raise Invalid("trace.code_empty_too_long", _N("code is empty or too long"))
    if looks_like_label_id(code.upper()):
        return trace_sample(session, code.upper(), memo)
    try:
        parsed = parse_code(code)
    except CodeError as exc:
        raise gs1_refusal(exc) from None
    if not parsed.is_gs1:
        raise Invalid(
            "trace.sample_label_id_gs1",
            _N("not a sample label id or a GS1 product code (GTIN, element string or Digital Link)"),
        )
    return trace_gs1(session, parsed, memo)


# --- cached JSON answers for the public endpoint -------------------------------------------------
# Every change the trace can show (publication, correction, warning, reference data) appends an audit
# event, which moves its chain's version, so the sum of the chains' versions is a version of everything a
# trace answer depends on. Answers
# are cached with that version and a short lifetime (warnings also expire with time), keyed by the
# normalised code (a label id upper-cased; a GS1 code as its kind and GTIN-14), so every spelling of
# one code shares one entry; the spelling itself (``code``, ``lot``) is put back into each answer.
# The cache is bounded by entries and bytes, and only answers that found something may displace the
# entries in use (see ``SegmentedCache``): a flood of random codes cannot empty it.
CACHE_SIZE = 20_000
CACHE_BYTES = 64 * 1024 * 1024
CACHE_SECONDS = 30.0
MEMO_ENTRIES = 4096
AUDIT_HEAD = select(func.sum(AuditChain.version))  # changes with every append to any chain
_ECHOED = frozenset({"code", "lot"})


class _Answer(NamedTuple):
    version: str
    expires: float
    status: int
    body: bytes  # a 200 answer without its echoed fields: b'{"kind":...}'


_cache: SegmentedCache[tuple[str, ...], _Answer] = SegmentedCache(
    CACHE_SIZE, CACHE_BYTES, size_of=lambda answer: len(answer.body)
)
_memo = HeadMemo(MEMO_ENTRIES)
Identity = tuple[tuple[str, ...], dict[str, str | None]]
# Parsing a Digital Link costs more than serving its cached answer: the spellings seen are remembered too.
_identities: SegmentedCache[str, tuple[Identity | None]] = SegmentedCache(
    CACHE_SIZE, 16 * 1024 * 1024, size_of=lambda found: 0 if found[0] is None else 2 * len(str(found[0]))
)


def normalised_code(code: str) -> Identity | None:
    """The key every spelling of a code shares, and this spelling's own ``code`` and ``lot``.

    None for a code refused without looking anything up (empty, too long, not a sample or GS1 code)."""
    code = code.strip()
    if not code or len(code) > MAX_CODE_LENGTH:
        return None
    if looks_like_label_id(code.upper()):
        return ("sample", code.upper()), {"code": code.upper(), "lot": None}
    try:
        parsed = parse_code(code)
    except CodeError:
        return None
    if not parsed.is_gs1 or parsed.gtin is None:
        return None
    return ("gs1", parsed.kind.value, parsed.gtin.gtin14), {"code": parsed.text, "lot": parsed.lot}


def _with_echo(body: bytes, echo: dict[str, str | None]) -> bytes:
    """A cached 200 body (``{"kind":...}``) with this request's ``code`` and ``lot`` put first."""
    fields = json.dumps(echo, ensure_ascii=False, separators=(",", ":")).encode()[:-1]  # '{"code":..,"lot":..'
    return fields + b"," + body[1:]


def _answer(session: Session, code: str, memo: HeadMemo | None) -> tuple[int, bytes]:
    """Status and body for a code; a 200 body leaves out the fields that echo the request's spelling."""
    try:
        return 200, trace(session, code, memo).model_dump_json(exclude=set(_ECHOED)).encode()
    except ServiceError as exc:
        return exc.status_code, json.dumps(
            {"detail": exc.reason, "code": exc.code, "params": exc.json_params(), **exc.details}, ensure_ascii=False
        ).encode()


def trace_json(session: Session, code: str) -> tuple[int, bytes]:
    """HTTP status and JSON body for a code, served from the cache while nothing has changed."""
    known = _identities.get(code)
    if known is None:
        known = (normalised_code(code),)
        _identities.put(code, known, protectable=known[0] is not None)
    identity = known[0]
    if identity is None:  # refused by its form alone (422): nothing to look up, nothing worth keeping
        return _answer(session, code, None)
    key, echo = identity
    version = str(session.connection().execute(AUDIT_HEAD).scalar() or "")
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is None or hit.version != version or hit.expires <= now:
        status, body = _answer(session, code, _memo.at(version))
        hit = _Answer(version, now + CACHE_SECONDS, status, body)
        _cache.put(key, hit, protectable=status == 200)
    return hit.status, _with_echo(hit.body, echo) if hit.status == 200 else hit.body


# --- what the consumer's page shows at a glance --------------------------------------------------------
# A quick test's raw figure is often not a content: a gold card's T/C ratio and the enzyme method's inhibition
# percentage only decide the judgement against the kit's cut-off. Comparing such a figure with a limit in µg/kg
# (0.559 < 20) reads as "fine" whatever the judgement is, so the page shows a value only when it is a content,
# in the unit of its limit.
# Contents use the judgement's own unit table (lims.judgement.units), so one unit means one thing everywhere.
VERDICT_DAYS = 30


class ShownValue(NamedTuple):
    """A result's value as the consumer sees it: a content in the unit of its limit."""

    value: str
    unit: str


def shown_value(r: TracedResult) -> ShownValue | None:
    """The value in the unit of its limit; None when the raw figure is a ratio or a percentage (T/C, inhibition)
    or otherwise not a content, so that the judgement alone is shown."""
    unit = normalise_unit(r.unit)
    if r.value is None or unit not in CONTENT_UNITS_MG_PER_KG:
        return None
    limit_unit = normalise_unit(r.limit_unit)
    target = limit_unit if limit_unit in CONTENT_UNITS_MG_PER_KG else unit
    if target == unit:
        return ShownValue(r.reported_value or f"{r.value:.4g}", r.unit)
    factor = CONTENT_UNITS_MG_PER_KG[unit] / CONTENT_UNITS_MG_PER_KG[target]
    return ShownValue(f"{r.value * factor:.4g}", r.limit_unit)


class ItemGroup(NamedTuple):
    """The results of one test item that found nothing (negatives, and invalid runs that are repeated)."""

    item_code: str
    item_name_zh: str
    item_name_en: str
    tests: int
    latest: datetime
    results: list[TracedResult]


class Verdict(NamedTuple):
    """What was tested here recently and what was found, for the card at the top of the page."""

    days: int
    recent: int  # results tested in the last `days` local days
    total: int
    positives: list[TracedResult]  # every published suspected positive, newest first
    recent_positives: list[TracedResult]
    groups: list[ItemGroup]  # everything else, by item, the item tested most recently first
    latest: datetime | None


def verdict(record: TraceRecord, today: date | None = None, days: int = VERDICT_DAYS) -> Verdict:
    """The verdict card of a trace record: counts over the last `days` district days, positives first."""
    day = today or clock.local_today()
    first = day - timedelta(days=days - 1)
    recent = [r for r in record.results if clock.local_date(r.tested_at) >= first]
    positives = [r for r in record.results if r.judgement == "positive"]
    groups: dict[str, list[TracedResult]] = {}
    for r in record.results:
        if r.judgement != "positive":
            groups.setdefault(r.item_code, []).append(r)
    ordered = sorted(groups.values(), key=lambda rs: max(x.tested_at for x in rs), reverse=True)
    return Verdict(
        days=days,
        recent=len(recent),
        total=len(record.results),
        positives=positives,
        recent_positives=[r for r in positives if r in recent],
        groups=[
            ItemGroup(
                rs[0].item_code, rs[0].item_name_zh, rs[0].item_name_en, len(rs), max(x.tested_at for x in rs), rs
            )
            for rs in ordered
        ],
        latest=max((r.tested_at for r in record.results), default=None),
    )


class CodeForm(NamedTuple):
    """One form of a GTIN as printed (UPC-A, EAN-13, GTIN-14 …)."""

    name: str
    digits: str


class RelatedCode(NamedTuple):
    """Another GS1 number of the same item (its packaging level) under which results are published."""

    gtin14: str
    shown: str
    results: int


class CodeFacts(NamedTuple):
    """What a valid GTIN tells by itself, and where results of the same item may be filed."""

    gtin14: str
    forms: list[CodeForm]
    issuer_zh: str
    issuer_en: str
    prefix: str
    restricted: bool
    publication: bool
    related: list[RelatedCode]


def code_forms(gtin14: str) -> list[CodeForm]:
    """Every printed form of one GTIN: GTIN-8 in its own form, else UPC-A (a leading 00), EAN-13 and GTIN-14."""
    forms: list[CodeForm] = []
    if gtin14.startswith("000000"):
        forms.append(CodeForm("GTIN-8 (EAN-8)", gtin14[6:]))
    else:
        if gtin14.startswith("00"):
            forms.append(CodeForm("GTIN-12 (UPC-A)", gtin14[2:]))
        if gtin14.startswith("0"):
            forms.append(CodeForm("GTIN-13 (EAN-13)", gtin14[1:]))
    forms.append(CodeForm("GTIN-14", gtin14))
    return forms


def _with_check(payload13: str) -> str:
    from barcodes.gs1 import check_digit

    return payload13 + str(check_digit(payload13))


def packaging_levels(gtin14: str) -> list[str]:
    """The GTIN-14s of the same item at other packaging levels (indicator 0 is the item, 1–8 its cases)."""
    base = gtin14[1:13]
    return [_with_check(str(indicator) + base) for indicator in range(9) if str(indicator) != gtin14[0]]


RESULT_COUNTS = (
    select(col(Sample.gtin), func.count())
    .join(TestResult, col(TestResult.sample_id) == col(Sample.id))
    .where(col(Sample.gtin).in_(bindparam("gtins", expanding=True)), visibility.public_only())
    .group_by(col(Sample.gtin))
)


def code_facts(session: Session, gtin14: str) -> CodeFacts:
    """What a GTIN the registry does not know tells by itself: its forms, issuing GS1 organisation (or a
    restricted, in-store number), and results published under the same item's other packaging levels."""
    from barcodes.gs1 import issuer_of

    issuer = issuer_of(gtin14)
    related: list[RelatedCode] = []
    if not gtin14.startswith("000000") and not (issuer is not None and issuer.restricted):
        rows = session.connection().execute(RESULT_COUNTS, {"gtins": packaging_levels(gtin14)}).all()
        counts = {str(g): int(n) for g, n in rows if g}
        related = [RelatedCode(g, g[1:] if g.startswith("0") else g, n) for g, n in sorted(counts.items()) if n]
    return CodeFacts(
        gtin14=gtin14,
        forms=code_forms(gtin14),
        issuer_zh=issuer.organisation_zh if issuer else "",
        issuer_en=issuer.organisation if issuer else "",
        prefix=issuer.prefix if issuer else gtin14[1:4],
        restricted=bool(issuer and issuer.restricted),
        publication=bool(issuer and issuer.kind in ("isbn", "issn")),
        related=related,
    )
