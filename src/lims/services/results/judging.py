"""Turn raw instrument figures into a judgement through the item's family's judgement module (named in the
family registry), with the item's method, the limit and the kit lot."""

from __future__ import annotations

import random
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from instrument_drivers import family_registry
from instrument_drivers.errors import UnknownDriverError
from lims.i18n import _N
from lims.judgement import (
    JudgeContext,
    Judgement,
    KitFigures,
    RawError,
    reasons,
)
from lims.judgement.raw import NeedsKitLot, figure_names, read_raw
from lims.models import KitLot, Limit, TestItem
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
    """True when the family's judgement rests on a kit lot (a result without one is flagged)."""
    return bool(getattr(module(family), "USES_KIT_LOT", False))


def context(item: TestItem, limit: Limit, kit: KitLot | None) -> JudgeContext:
    """What the judgement may use besides the raw figures, from the reference data."""
    return JudgeContext(
        item_code=item.code,
        method=dict(item.method),
        banned=item.banned,
        limit=limit.limit,
        limit_unit=limit.unit,
        limit_source=limit.source,
        kit=KitFigures(kit.lot, kit.cutoff_tc, kit.min_c_intensity) if kit is not None else None,
    )


def judge(item: TestItem, raw: Mapping[str, Any], limit: Limit, kit: KitLot | None) -> Judgement:
    """Judge raw figures for `item` against `limit` (and the kit lot's cut-off where the family uses one)."""
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
        judgement: Judgement = family.judge_raw(values, context(item, limit, kit))
    except NeedsKitLot:
        raise Invalid(
            "judging.item_needs_kit_lot", _N("item {item_code} needs a kit lot with a cut-off"), item_code=item.code
        ) from None
    except ValueError as exc:  # CannotJudge included: a plug-in family's own reason, shown as it is
        raise Invalid(
            "judging.cannot_judge", _N("cannot judge {item_code}: {exc}"), item_code=item.code, exc=exc
        ) from None
    return judgement


def example_raw(
    item: TestItem, limit: Limit, kit: KitLot | None, positive: bool, rng: random.Random
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
    figures: dict[str, float] = make(context(item, limit, kit), positive, rng)
    return figures
