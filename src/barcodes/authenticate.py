"""Authentication (鉴别) of a scanned or typed code: findings from data-driven rules, each a code and a message.

A finding's message is a message id with parameters (`barcodes.messages`); an application translates it."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from barcodes.gs1 import CodeError, CodeKind, ParsedCode
from barcodes.messages import _N, _NC, Message, Names
from barcodes.products import ProductRecord
from barcodes.trademarks import KNOCKOFF_THRESHOLD, Trademark, normalise_company, search_marks

__all__ = ["SEVERITIES", "Finding", "authenticate", "country_of"]

SEVERITIES = ("ok", "info", "warning", "critical")
_KIND = {
    CodeKind.GTIN: _NC("code kind", "GTIN"),
    CodeKind.GS1_ELEMENT_STRING: _NC("code kind", "GS1 element string"),
    CodeKind.DIGITAL_LINK: _NC("code kind", "GS1 Digital Link"),
    CodeKind.OTHER: _NC("code kind", "other"),
}
_STATUS = {
    "registered": _NC("trademark status", "registered"),
    "pending": _NC("trademark status", "pending"),
    "expired": _NC("trademark status", "expired"),
    "cancelled": _NC("trademark status", "cancelled"),
    "invalidated": _NC("trademark status", "invalidated"),
}


@dataclass(frozen=True)
class Finding:
    """One authentication finding: its code, severity (ok, info, warning, critical) and message."""

    code: str
    severity: str
    message: Message

    @property
    def params(self) -> dict[str, Any]:
        """The message's parameters."""
        return dict(self.message.params)

    @property
    def message_en(self) -> str:
        """The message in English."""
        return self.message.english()

    def to_dict(self) -> dict[str, str]:
        """Plain dict for JSON, the message in English."""
        return {"code": self.code, "severity": self.severity, "message_en": self.message_en}


@dataclass(frozen=True)
class _Rule:
    severity: str
    message: str  # a message id; the parameters come from the rule that found it


# Each finding code's severity and message.
FINDINGS: dict[str, _Rule] = {
    "code_invalid": _Rule("critical", _N("Invalid code: {reason}. It may be a printing error or a counterfeit.")),
    "code_valid": _Rule("ok", _N("The code is valid ({kind}).")),
    "not_gs1": _Rule("info", _N("This is not a GS1 product code; it cannot identify a product.")),
    "restricted_number": _Rule(
        "warning",
        _N("This is an in-store number (prefix {prefix}), valid only inside one shop or company; it cannot be traced."),
    ),
    "publication_number": _Rule(
        "info", _N("This is a publication number ({organisation}) rather than a food product code.")
    ),
    "issuer": _Rule(
        "info",
        _N(
            "The number was issued by {organisation} (prefix {prefix}). "
            "A prefix shows where the number was issued, not where the product was made."
        ),
    ),
    "issuer_unknown": _Rule("warning", _N("Prefix {prefix} is not assigned to any GS1 member organisation.")),
    "origin_mismatch": _Rule(
        "warning",
        _N(
            'The package claims origin "{claimed}" but the number was issued by {organisation}. '
            "Imported or contract-made goods can do this; check the import or contract-manufacturing details."
        ),
    ),
    "product_registered": _Rule("ok", _N("Registered product: {brand} {name} ({company}).")),
    "product_unknown": _Rule("warning", _N("The product database has no product for this code.")),
    "mark_registered": _Rule(
        "ok", _N('The package mark "{mark}" is registered (no. {registration_no}, owner {owner}).')
    ),
    "mark_knockoff": _Rule(
        "critical",
        _N(
            'The package mark "{mark}" closely imitates the registered mark "{similar}" '
            "(owner {owner}): suspected knock-off."
        ),
    ),
    "mark_unregistered": _Rule("warning", _N('No registration found for the package mark "{mark}".')),
    "mark_expired": _Rule("warning", _N('The mark "{mark}" (no. {registration_no}) expired on {valid_to}.')),
    "mark_cancelled": _Rule("critical", _N('The mark "{mark}" (no. {registration_no}) has been {status}.')),
    "mark_owner_mismatch": _Rule(
        "warning", _N('The mark "{mark}" belongs to {owner}, not to the product\'s brand owner "{brand_owner}".')
    ),
    "brand_mismatch": _Rule("warning", _N('The package mark "{mark}" differs from the registered brand "{brand}".')),
}


@cache
def _country_aliases() -> dict[str, str]:
    text = resources.files("barcodes").joinpath("data", "country_aliases.csv").read_text(encoding="utf-8")
    return {
        alias.strip().lower(): row["country"]
        for row in csv.DictReader(text.splitlines())
        for alias in row["aliases"].split("|")
    }


def country_of(claim: str) -> str | None:
    """ISO country code for an origin claim such as “中国”, “台湾”, “Japan”, or a province inside China."""
    text = claim.strip().lower()
    if not text:
        return None
    aliases = _country_aliases()
    if text in aliases:
        return aliases[text]
    for alias, code in sorted(aliases.items(), key=lambda kv: -len(kv[0])):
        if len(alias) >= 2 and text.startswith(alias):
            return code
    return None


@dataclass(frozen=True)
class _Context:
    parsed: ParsedCode | None
    error: CodeError | None
    product: ProductRecord | None
    marks: Sequence[Trademark]
    claimed_origin: str | None
    package_mark: str | None
    today: dt.date


_Hit = tuple[str, dict[str, Any]]


def _code_rule(ctx: _Context) -> Iterator[_Hit]:
    if ctx.error is not None:
        yield "code_invalid", {"reason": ctx.error.message}
    elif ctx.parsed is not None and not ctx.parsed.is_gs1:
        yield "not_gs1", {}
    elif ctx.parsed is not None:
        yield "code_valid", {"kind": Message(_KIND[ctx.parsed.kind])}


def _issuer_rule(ctx: _Context) -> Iterator[_Hit]:
    gtin = ctx.parsed.gtin if ctx.parsed else None
    if gtin is None:
        return
    issuer = gtin.issuer
    if issuer is None:
        yield "issuer_unknown", {"prefix": gtin.gtin14[1:4]}
        return
    params = {"prefix": issuer.prefix, "organisation": Names(issuer.organisation_zh, issuer.organisation)}
    if issuer.restricted:
        yield "restricted_number", params
    elif issuer.kind in ("isbn", "issn"):
        yield "publication_number", params
    else:
        yield "issuer", params
        claimed = country_of(ctx.claimed_origin or "")
        if claimed and issuer.country and claimed != issuer.country:
            yield "origin_mismatch", {**params, "claimed": ctx.claimed_origin}


def _product_rule(ctx: _Context) -> Iterator[_Hit]:
    if ctx.parsed is None or ctx.parsed.gtin is None:
        return
    gtin = ctx.parsed.gtin
    if gtin.issuer is not None and (gtin.issuer.restricted or gtin.issuer.kind in ("isbn", "issn")):
        return
    p = ctx.product
    if p is None:
        yield "product_unknown", {}
    else:
        yield "product_registered", {"brand": p.brand, "name": p.name, "company": p.company or p.brand_owner}


def _mark_rule(ctx: _Context) -> Iterator[_Hit]:
    mark = (ctx.package_mark or "").strip()
    if not mark:
        return
    hits = search_marks(mark, ctx.marks, limit=5, min_score=KNOCKOFF_THRESHOLD)
    exact = [h.mark for h in hits if h.mark.mark == mark]
    if not exact:
        if hits:
            best = hits[0].mark
            yield "mark_knockoff", {"mark": mark, "similar": best.mark, "owner": best.owner}
        else:
            yield "mark_unregistered", {"mark": mark}
        return
    # Prefer a registration in force; report the best one's status.
    tm = next((t for t in exact if t.in_force(ctx.today)), exact[0])
    params = {
        "mark": tm.mark,
        "registration_no": tm.registration_no,
        "owner": tm.owner,
        "status": Message(_STATUS[tm.status]) if tm.status in _STATUS else tm.status,
        "valid_to": tm.valid_to.isoformat() if tm.valid_to else "",
    }
    if tm.status in ("cancelled", "invalidated"):
        yield "mark_cancelled", params
    elif tm.status == "expired" or (tm.valid_to is not None and tm.valid_to < ctx.today):
        yield "mark_expired", params
    elif tm.status == "registered":
        yield "mark_registered", params
    # A knock-off maker may once have registered its imitation: name the mark in force it resembles.
    similar = [h.mark for h in hits if h.mark.mark != mark and h.mark.in_force(ctx.today)]
    if not tm.in_force(ctx.today) and similar:
        yield "mark_knockoff", {"mark": mark, "similar": similar[0].mark, "owner": similar[0].owner}
    if tm.status in ("cancelled", "invalidated"):
        return
    p = ctx.product
    if p is not None:
        owners = {normalise_company(x) for x in (p.brand_owner, p.company) if x}
        if owners and normalise_company(tm.owner) not in owners:
            yield "mark_owner_mismatch", {**params, "brand_owner": p.brand_owner or p.company}
        if p.brand and p.brand != mark:
            yield "brand_mismatch", {"mark": mark, "brand": p.brand}


# Rules run in this order; each yields (finding code, message parameters).
RULES: tuple[Callable[[_Context], Iterator[_Hit]], ...] = (_code_rule, _issuer_rule, _product_rule, _mark_rule)


def authenticate(
    parsed_code: ParsedCode | CodeError | str,
    product: ProductRecord | None,
    marks: Sequence[Trademark],
    claimed_origin: str | None = None,
    package_mark: str | None = None,
    *,
    today: dt.date | None = None,
) -> list[Finding]:
    """Findings for a code (parsed, a ``CodeError`` from parsing, or raw text), its product and marks."""
    from barcodes.gs1 import parse_code

    parsed: ParsedCode | None = None
    error: CodeError | None = None
    if isinstance(parsed_code, CodeError):
        error = parsed_code
    elif isinstance(parsed_code, str):
        try:
            parsed = parse_code(parsed_code)
        except CodeError as exc:
            error = exc
    else:
        parsed = parsed_code
    ctx = _Context(parsed, error, product, marks, claimed_origin, package_mark, today or dt.date.today())
    findings = []
    for rule in RULES:
        for code, params in rule(ctx):
            found = FINDINGS[code]
            findings.append(Finding(code, found.severity, Message(found.message, params)))
    return findings
