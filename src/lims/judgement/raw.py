"""What every family's judgement module shares: finite raw figures, the judgement context, and reading
raw figures against a family's schema.

A family's judgement module (named in `instrument_drivers.family_registry`) holds:

* ``Raw`` – a `RawFigures` model of the figures it judges, or a tuple of alternative models (the first
  whose required figures are all present is used);
* ``judge_raw(raw, context) -> Judgement`` – the judgement of validated figures;
* optionally ``USES_KIT_LOT = True`` (the judgement rests on a kit lot; without one it is invalid) and
  ``example_raw(context, positive, rng)`` (figures a real run with that outcome would give, for the demo).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = [
    "CannotJudge",
    "FiniteFloat",
    "JudgeContext",
    "KitFigures",
    "RawError",
    "RawFigures",
    "alternatives",
    "figure_names",
    "read_raw",
]

FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False)]
"""A raw figure: a finite int or float (no text, no booleans)."""


class RawFigures(BaseModel):
    """Base of a family's raw-figure model; figures it does not name are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class RawError(ValueError):
    """Raw figures that do not fit the family's schema: `figure` is not a finite number (its `value`), or,
    with `figure` None, the figures `wanted` are missing for `family`."""

    def __init__(
        self, message: str, *, figure: str | None = None, value: Any = None, family: str = "", wanted: str = ""
    ) -> None:
        super().__init__(message)
        self.figure, self.value, self.family, self.wanted = figure, value, family, wanted


class CannotJudge(ValueError):
    """The reference data do not allow a judgement; the message is shown as it is."""


class NeedsKitLot(CannotJudge):
    """The item is judged against a kit lot's cut-off, and neither the lot nor the item gives one."""

    def __init__(self, item_code: str) -> None:
        super().__init__(f"item {item_code} needs a kit lot with a cut-off")
        self.item_code = item_code


@dataclass(frozen=True)
class KitFigures:
    """The reading rules of the kit lot a test used (what a kit's instructions give).

    The lot-wide figures apply to every matrix the lot lists in `matrices` unless that matrix gives its own:
    ``matrices = {CATEGORY_CODE: {"cutoff_tc": …, "detection_limit": …, "min_c_intensity": …}}``."""

    lot: str
    cutoff_tc: float | None = None
    min_c_intensity: float | None = None
    detection_limit: float | None = None
    detection_limit_unit: str = ""
    matrices: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class JudgeContext:
    """What a judgement may use besides the raw figures: the item's method, the limit, the kit lot."""

    item_code: str
    method: Mapping[str, Any] = field(default_factory=dict)  # the item's method parameters (reference data)
    banned: bool = False
    limit: float | None = None  # for the sample's food category, in `limit_unit`; None: not permitted at all
    limit_unit: str = ""
    limit_source: str = ""
    kit: KitFigures | None = None
    category_code: str = ""  # the sample's food category (the kit lot's matrix)
    product_name: str = ""  # what the sample is, as written on its label


def alternatives(schema: type[RawFigures] | tuple[type[RawFigures], ...]) -> tuple[type[RawFigures], ...]:
    """The alternative models of a family's ``Raw``."""
    return schema if isinstance(schema, tuple) else (schema,)


def _required(model: type[RawFigures]) -> list[str]:
    return [name for name, info in model.model_fields.items() if info.is_required()]


def figure_names(schema: type[RawFigures] | tuple[type[RawFigures], ...]) -> set[str]:
    """Every figure any alternative reads (required or optional)."""
    return {name for model in alternatives(schema) for name in model.model_fields}


def read_raw(
    schema: type[RawFigures] | tuple[type[RawFigures], ...], raw: Mapping[str, Any], family: str
) -> RawFigures:
    """The figures of the first alternative whose required figures `raw` has; `RawError` says what is wanted."""
    for model in alternatives(schema):
        if all(name in raw for name in _required(model)):
            try:
                return model.model_validate(dict(raw))
            except ValidationError as exc:
                name = str(exc.errors()[0]["loc"][0])
                raise RawError(
                    f"raw value {name!r} must be a finite number, got {raw.get(name)!r}",
                    figure=name,
                    value=raw.get(name),
                ) from None
    wanted = " or ".join("{" + ", ".join(_required(model)) + "}" for model in alternatives(schema))
    raise RawError(f"raw data for a {family} item needs {wanted}", family=family, wanted=wanted)
