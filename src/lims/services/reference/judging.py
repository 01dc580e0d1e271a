"""Turn raw instrument figures into a judgement through the item's family's judgement module (named in the
family registry), with the item's method, the limit and the kit lot."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace
from types import ModuleType
from typing import Any

from instrument_drivers import family_registry
from instrument_drivers.errors import UnknownDriverError
from lims.i18n import _N
from lims.judgement import (
    JudgeContext,
    Judgement,
    KitFigures,
    Outcome,
    RawError,
    reasons,
    rounding,
)
from lims.judgement.raw import NeedsKitLot, figure_names, read_raw
from lims.models import KitLot, Limit, Sample, TestItem
from lims.services.core.errors import Invalid


def module(family: str) -> ModuleType:
    """The judgement module of `family`; `Invalid` names the known families."""
    try:
        spec = family_registry.spec(family)
    except UnknownDriverError:
        known = ", ".join(family_registry.names())
        raise Invalid(
            "judging.unknown_family",
            _N("unknown instrument family {family!r}; known: {known}"),
            family=family,
            known=known,
        ) from None
    found: ModuleType = spec.load("judgement")
    reasons.register(getattr(found, "REASONS", {}))  # a plug-in family's own reason messages
    return found


def figures(family: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """Those of `raw` that the family's judgement reads (an instrument also sends figures it does not)."""
    names = figure_names(module(family).Raw)
    return {name: value for name, value in raw.items() if name in names}


def uses_kit_lot(family: str) -> bool:
    """True when the family's judgement rests on a kit lot (a result without one is invalid)."""
    return bool(getattr(module(family), "USES_KIT_LOT", False))


def kit_figures(kit: KitLot) -> KitFigures:
    """The reading rules of a kit lot row, lot-wide and per matrix."""
    return KitFigures(
        kit.lot,
        kit.cutoff_tc,
        kit.min_c_intensity,
        kit.detection_limit,
        kit.detection_limit_unit,
        dict(kit.matrices or {}),
    )


def context(
    item: TestItem, limit: Limit, kit: KitLot | None, sample: Sample | None = None, *, matrix: str | None = None
) -> JudgeContext:
    """What the judgement may use besides the raw figures, from the reference data and the sample (or, for a
    control run, which has no sample, the food category `matrix` it is read for)."""
    return JudgeContext(
        item_code=item.code,
        method=dict(item.method),
        banned=item.banned,
        limit=limit.limit,
        limit_unit=limit.unit,
        limit_source=limit.source,
        kit=kit_figures(kit) if kit is not None else None,
        category_code=matrix if matrix is not None else (sample.category_code if sample is not None else ""),
        product_name=sample.product_name if sample is not None else "",
    )


def judge(
    item: TestItem,
    raw: Mapping[str, Any],
    limit: Limit,
    kit: KitLot | None,
    sample: Sample | None = None,
    *,
    matrix: str | None = None,
) -> Judgement:
    """Judge raw figures for `item` against `limit` (and the kit lot's figures for the sample's matrix where
    the family uses one); the reported value is rounded by the item's method (GB/T 8170). A control run has no
    sample: `matrix` names the food category it is read for."""
    family = module(item.family)
    try:
        values = read_raw(family.Raw, raw, item.family)
    except RawError as exc:
        if exc.figure is not None:
            raise Invalid(
                "judging.raw_value_must_finite",
                _N("raw value {name!r} must be a finite number, got {value!r}"),
                name=exc.figure,
                value=exc.value,
            ) from None
        raise Invalid(
            "judging.raw_data_item_needs",
            _N("raw data for a {family} item needs {wanted}"),
            family=exc.family,
            wanted=exc.wanted,
        ) from None
    try:
        judgement: Judgement = family.judge_raw(values, context(item, limit, kit, sample, matrix=matrix))
    except NeedsKitLot:
        raise Invalid(
            "judging.item_needs_kit_lot", _N("item {item_code} needs a kit lot with a cut-off"), item_code=item.code
        ) from None
    except ValueError as exc:  # CannotJudge included: a plug-in family's own reason, shown as it is
        raise Invalid(
            "judging.cannot_judge", _N("cannot judge {item_code}: {exc}"), item_code=item.code, exc=exc
        ) from None
    return with_reported(judgement, item.method, getattr(family, "VALUE_PARAM", None))


def with_reported(judgement: Judgement, method: Mapping[str, Any], value_param: str | None) -> Judgement:
    """`judgement` with its reported figure (rounded by the method, GB/T 8170) in the details and the reason.

    The value stays full for comparisons and statistics; `details["reported_value"]` is what people read, and
    the reason's figure (`value_param`) shows it too. Without a rounding rule nothing changes."""
    shown = rounding.reported(judgement.value, method)
    if shown is None:
        return judgement
    params = dict(judgement.reason_params)
    if value_param and value_param in params:
        params[value_param] = shown
    return replace(
        judgement,
        reason_params=params,
        details={**judgement.details, "reported_value": shown, "rounding": rounding.SOURCE},
    )


def invalidated(judgement: Judgement, code: str, params: dict[str, Any]) -> Judgement:
    """`judgement` made invalid for `code` (an expired kit, an instrument past calibration): no value, its
    figures and the judgement it would have had kept in the details."""
    return replace(
        judgement,
        outcome=Outcome.INVALID,
        value=None,
        reason_code=code,
        reason_params=params,
        details={**judgement.details, "judged_before_invalid": judgement.outcome.value, "reported_value": None},
    )


def interfering_species(method: Mapping[str, Any], product_name: str) -> str | None:
    """The first of the method's interfering species (`method.interfering_species`) the product name names."""
    names = method.get("interfering_species") or []
    text = product_name.strip()
    for name in names if isinstance(names, list) else []:
        if isinstance(name, str) and name.strip() and name.strip() in text:
            return name.strip()
    return None


def example_raw(
    item: TestItem,
    limit: Limit,
    kit: KitLot | None,
    positive: bool,
    rng: random.Random,
    sample: Sample | None = None,
    *,
    matrix: str | None = None,
) -> dict[str, float]:
    """Raw figures a real run of `item` with this outcome would give (for the demo's hand-made readings)."""
    make = getattr(module(item.family), "example_raw", None)
    if make is None:
        raise Invalid(
            "judging.no_example_figures",
            _N("the {family} family's judgement gives no example figures for {item_code}"),
            family=item.family,
            item_code=item.code,
        )
    try:
        figures: dict[str, float] = make(context(item, limit, kit, sample, matrix=matrix), positive, rng)
    except ValueError as exc:
        raise Invalid(
            "judging.cannot_judge", _N("cannot judge {item_code}: {exc}"), item_code=item.code, exc=exc
        ) from None
    return figures
