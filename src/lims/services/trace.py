"""Public traceability: what was tested and found for a sample label id or a product code."""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar, cast

from sqlalchemy import and_, bindparam, func, select
from sqlmodel import Session, col

from barcodes.authenticate import authenticate
from barcodes.gs1 import CodeError, ParsedCode, parse_code
from lims.models import AuditChain, FoodCategory, Limit, PublicWarning, Sample, SamplingPoint, TestItem, TestResult
from lims.models.common import ResultStatus
from lims.models.trace import (
    Finding,
    TracedMark,
    TracedProduct,
    TracedResult,
    TracedSample,
    TracedWarning,
    TraceRecord,
)
from lims.services import registry, warnings
from lims.services.errors import Invalid, NotFound, ServiceError
from lims.services.label_ids import label_id_problem, looks_like_label_id

# Plain-language meaning of each screening outcome (Chinese first).
MEANING: dict[str, tuple[str, str]] = {
    "negative": ("阴性：本次快速检测未发现问题", "Negative: this quick test found no problem"),
    "positive": (
        "疑似阳性：快速检测发现可能不合格，需实验室确认",
        "Suspected positive: the quick test indicates a possible problem; a laboratory confirms it",
    ),
    "invalid": ("无效：本次检测无效，需重新检测", "Invalid: the test did not work and is repeated"),
}
PUBLIC_STATUSES = (ResultStatus.PUBLISHED.value, ResultStatus.ARCHIVED.value)
MAX_CODE_LENGTH = 512
T = TypeVar("T")


def _result_statement(condition: Any) -> Any:
    """Published results with item, point and limit, newest first (built once, reused with parameters)."""
    return (
        select(
            col(TestResult.judgement),
            col(TestResult.value),
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
        .where(condition, col(TestResult.status).in_(PUBLIC_STATUSES))
        .order_by(col(TestResult.tested_at).desc())
        .limit(MAX_RESULTS)
    )


MAX_RESULTS = 200
RESULTS_OF_LABEL = _result_statement(col(Sample.label_id) == bindparam("label_id"))
RESULTS_OF_GTIN = _result_statement(col(Sample.gtin) == bindparam("gtin"))
SAMPLE_BY_LABEL = (
    select(
        col(Sample.id),
        col(Sample.label_id),
        col(Sample.product_name),
        col(Sample.brand),
        col(Sample.gtin),
        col(Sample.batch),
        col(Sample.category_code),
        col(Sample.collected_at),
        col(SamplingPoint.name),
        col(SamplingPoint.name_en),
    )
    .join(SamplingPoint, col(SamplingPoint.id) == col(Sample.point_id))
    .where(col(Sample.label_id) == bindparam("label_id"))
)


def _results(session: Session, statement: Any, params: dict[str, Any]) -> list[TracedResult]:
    return _as_results(session.connection().execute(statement, params).all())


def _as_results(rows: Any) -> list[TracedResult]:
    return [
        TracedResult(
            sample_label_id=r.label_id,
            item_code=r.code,
            item_name_zh=r.name_zh,
            item_name_en=r.name_en,
            judgement=r.judgement,
            meaning_zh=MEANING[r.judgement][0],
            meaning_en=MEANING[r.judgement][1],
            value=r.value,
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
        )
        for r in rows
    ]


def _warnings(rows: list[PublicWarning]) -> list[TracedWarning]:
    return [
        TracedWarning(id=int(w.id or 0), title_zh=w.title_zh, title_en=w.title_en, published_at=w.published_at)
        for w in rows
    ]


class HeadMemo:
    """Values computed once per state of the database (the audit head) and reused until it changes."""

    def __init__(self) -> None:
        self.head = ""
        self.values: dict[Any, Any] = {}

    def at(self, head: str) -> HeadMemo:
        """This memo, emptied if the database has changed since it was filled."""
        if head != self.head:
            self.head, self.values = head, {}
        return self

    def get(self, key: Any, compute: Callable[[], T]) -> T:
        """The value for `key`, computed on first use."""
        if key not in self.values:
            self.values[key] = compute()
        return cast(T, self.values[key])


def _computed(memo: HeadMemo | None, key: Any, compute: Callable[[], T]) -> T:
    return compute() if memo is None else memo.get(key, compute)


def _relevant_warnings(
    session: Session, memo: HeadMemo | None, gtin14: str | None, items: set[str]
) -> list[TracedWarning]:
    in_force = _computed(memo, "warnings", lambda: warnings.in_force(session))
    return _warnings(warnings.relevant(in_force, gtin14=gtin14, item_codes=items))


def trace_sample(session: Session, label_id: str, memo: HeadMemo | None = None) -> TraceRecord:
    """A sample's published results by its label id."""
    problem = label_id_problem(label_id)
    if problem:
        raise Invalid(problem)
    rows = session.connection().execute(RESULTS_OF_LABEL, {"label_id": label_id}).all()
    if not rows:
        if session.connection().execute(SAMPLE_BY_LABEL, {"label_id": label_id}).first() is None:
            raise NotFound(f"no sample with label id {label_id}")
        raise NotFound(f"sample {label_id} has no published results yet")
    results = _as_results(rows)
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
    return TraceRecord(
        code=label_id,
        kind="sample",
        gtin=row.gtin,
        sample=traced,
        product=product,
        trademarks=marks,
        findings=findings,
        results=results,
        warnings=_relevant_warnings(session, memo, row.gtin, {r.item_code for r in results}),
    )


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
        parsed, product, marks, claimed_origin=product.origin if product else None, package_mark=mark_text
    )
    traced = TracedProduct.model_validate({**product.to_dict(), "gtin": product.gtin14}) if product else None
    return (
        traced,
        [
            TracedMark(
                registration_no=m.registration_no, mark=m.mark, owner=m.owner, status=m.status, valid_to=m.valid_to
            )
            for m in marks
        ],
        [Finding(**f.to_dict()) for f in findings],
    )


def trace_gs1(session: Session, parsed: ParsedCode, memo: HeadMemo | None = None) -> TraceRecord:
    """A product code (GTIN, GS1 element string or Digital Link): product, authenticity, published results."""
    if parsed.gtin is None:
        raise Invalid("the GS1 code carries no GTIN, so it names no product")
    gtin14 = parsed.gtin.gtin14
    product, marks, findings = _computed(
        memo, ("authenticity", gtin14, None), lambda: _authenticity(session, parsed, None)
    )
    results = _results(session, RESULTS_OF_GTIN, {"gtin": gtin14})
    active = _relevant_warnings(session, memo, gtin14, set())
    if not results and not active and product is None:
        raise NotFound(
            f"we know nothing about GTIN {gtin14} yet",
            details={"gtin": gtin14, "findings": [f.model_dump() for f in findings]},
        )
    return TraceRecord(
        code=parsed.text,
        kind=parsed.kind.value,
        gtin=gtin14,
        lot=parsed.lot,
        product=product,
        trademarks=marks,
        findings=findings,
        results=results,
        warnings=active,
    )


def trace(session: Session, code: str, memo: HeadMemo | None = None) -> TraceRecord:
    """Trace any supported code: a sample label id, a GTIN-8/12/13/14, a GS1 element string or Digital Link."""
    code = code.strip()
    if not code or len(code) > MAX_CODE_LENGTH:
        raise Invalid("code is empty or too long")
    if looks_like_label_id(code.upper()):
        return trace_sample(session, code.upper(), memo)
    try:
        parsed = parse_code(code)
    except CodeError as exc:
        raise Invalid(exc.reason, details={"reason_zh": exc.reason_zh}) from None
    if not parsed.is_gs1:
        raise Invalid("not a sample label id or a GS1 product code (GTIN, element string or Digital Link)")
    return trace_gs1(session, parsed, memo)


# --- cached JSON answers for the public endpoint -------------------------------------------------
# Every change the trace can show (publication, correction, warning, reference data) appends an audit
# event, so the newest event's hash is a version of everything a trace answer depends on. Answers
# are cached per code with that version and a short lifetime (warnings also expire with time).
CACHE_SIZE = 20_000
CACHE_SECONDS = 30.0
AUDIT_HEAD = select(func.sum(AuditChain.version))  # changes with every append to any chain
_cache: OrderedDict[str, tuple[str, float, int, bytes]] = OrderedDict()
_memo = HeadMemo()


def trace_json(session: Session, code: str) -> tuple[int, bytes]:
    """HTTP status and JSON body for a code, served from the cache while nothing has changed."""
    version = str(session.connection().execute(AUDIT_HEAD).scalar() or "")
    now = time.monotonic()
    hit = _cache.get(code)
    if hit is not None and hit[0] == version and hit[1] > now:
        _cache.move_to_end(code)
        return hit[2], hit[3]
    try:
        status, body = 200, trace(session, code, _memo.at(version)).model_dump_json().encode()
    except ServiceError as exc:
        status, body = exc.status_code, json.dumps({"detail": exc.reason, **exc.details}, ensure_ascii=False).encode()
    _cache[code] = (version, now + CACHE_SECONDS, status, body)
    if len(_cache) > CACHE_SIZE:
        _cache.popitem(last=False)
    return status, body
