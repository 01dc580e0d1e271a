"""Turn raw instrument figures into a judgement, using the item's method, the limit and the kit lot."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from lims.i18n import _N
from lims.judgement import (
    CalibrationCurve,
    EnzymeMethod,
    GoldKit,
    ItemLimit,
    Judgement,
    judge_enzyme,
    judge_enzyme_deltas,
    judge_gold,
    judge_spectro,
)
from lims.models import KitLot, Limit, TestItem
from lims.services.core.errors import Invalid

# Raw figures each family accepts; one alternative set must be complete.
RAW_FIELDS: dict[str, tuple[tuple[str, ...], ...]] = {
    "pesticide": (("control_dA", "sample_dA"), ("control_a0", "control_a3", "sample_a0", "sample_a3")),
    "gold": (("t", "c"),),
    "spectro": (("absorbance", "blank", "dilution", "mass_g"),),
}


def _numbers(raw: Mapping[str, Any], family: str) -> dict[str, float]:
    for fields in RAW_FIELDS[family]:
        if all(name in raw for name in fields):
            values: dict[str, float] = {}
            for name in fields:
                value = raw[name]
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                    raise Invalid(
                        "judging.raw_value_must_finite",
                        _N("raw value {name!r} must be a finite number, got {value!r}"),
                        name=name,
                        value=value,
                    )
                values[name] = float(value)
            return values
    wanted = " or ".join("{" + ", ".join(fields) + "}" for fields in RAW_FIELDS[family])
    raise Invalid(
        "judging.raw_data_item_needs", _N("raw data for a {family} item needs {wanted}"), family=family, wanted=wanted
    )


def _pesticide(item: TestItem, raw: dict[str, float], limit: Limit, kit: KitLot | None) -> Judgement:
    method = EnzymeMethod(
        threshold_pct=float(limit.limit if limit.limit is not None else item.method.get("threshold_pct", 50.0)),
        min_control_dA=float(item.method.get("min_control_dA", 0.3)),
    )
    if "control_dA" in raw:
        return judge_enzyme_deltas(control_dA=raw["control_dA"], sample_dA=raw["sample_dA"], method=method)
    return judge_enzyme(
        control_a0=raw["control_a0"],
        control_a3=raw["control_a3"],
        sample_a0=raw["sample_a0"],
        sample_a3=raw["sample_a3"],
        method=method,
    )


def _gold(item: TestItem, raw: dict[str, float], limit: Limit, kit: KitLot | None) -> Judgement:
    cutoff = kit.cutoff_tc if kit and kit.cutoff_tc is not None else item.method.get("default_cutoff_tc")
    min_c = kit.min_c_intensity if kit and kit.min_c_intensity is not None else item.method.get("default_min_c")
    if cutoff is None or min_c is None:
        raise Invalid(
            "judging.item_needs_kit_lot", _N("item {item_code} needs a kit lot with a cut-off"), item_code=item.code
        )
    return judge_gold(
        t_intensity=raw["t"],
        c_intensity=raw["c"],
        kit=GoldKit(cutoff_tc=float(cutoff), min_c_intensity=float(min_c)),
    )


def _spectro(item: TestItem, raw: dict[str, float], limit: Limit, kit: KitLot | None) -> Judgement:
    method = item.method
    if "slope" in raw and "intercept" in raw:
        curve = CalibrationCurve(
            slope=raw["slope"],
            intercept=raw["intercept"],
            min_conc=float(method["standards"][0][0]),
            max_conc=float(method["standards"][-1][0]),
            conc_unit=str(method.get("conc_unit", "mg/L")),
        )
    else:
        curve = CalibrationCurve.from_standards(
            [(float(c), float(a)) for c, a in method["standards"]], str(method.get("conc_unit", "mg/L"))
        )
    item_limit = ItemLimit(
        limit=limit.limit,
        unit=limit.unit,
        banned=item.banned or limit.limit is None,
        detection_limit=float(method.get("detection_limit", 0.0)),
        source=limit.source,
    )
    return judge_spectro(
        absorbance=raw["absorbance"],
        blank=raw["blank"],
        curve=curve,
        dilution=raw["dilution"],
        sample_mass_g=raw["mass_g"],
        extract_volume_ml=float(method.get("extract_volume_ml", 50.0)),
        limit=item_limit,
    )


JUDGES: dict[str, Callable[[TestItem, dict[str, float], Limit, KitLot | None], Judgement]] = {
    "pesticide": _pesticide,
    "gold": _gold,
    "spectro": _spectro,
}


def judge(item: TestItem, raw: Mapping[str, Any], limit: Limit, kit: KitLot | None) -> Judgement:
    """Judge raw figures for `item` against `limit` (and the kit lot's cut-off for gold cards)."""
    numbers = _numbers(raw, item.family)
    extras = {k: float(v) for k, v in raw.items() if k in ("slope", "intercept") and isinstance(v, int | float)}
    try:
        return JUDGES[item.family](item, {**numbers, **extras}, limit, kit)
    except ValueError as exc:
        raise Invalid(
            "judging.cannot_judge", _N("cannot judge {item_code}: {exc}"), item_code=item.code, exc=exc
        ) from None
