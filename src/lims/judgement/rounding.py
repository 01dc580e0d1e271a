"""Rounding a reported figure by GB/T 8170-2008 §3.2 (数值修约规则): 四舍六入五成双, in one step.

The rules (§3.2.1–3.2.5): the leftmost digit dropped below 5 → drop; above 5, or 5 followed by any non-zero
digit → round up; exactly 5 (nothing or only zeros after it) → round to the even neighbour (keep an even last
digit, raise an odd one); a negative number is rounded by its absolute value.  A figure is rounded once from its
full value, never step by step (8.53459 to three significant figures is 8.53, not 8.54).  Limits are compared
with the full value (全数值比较法, §4.3); the rounded figure is what people read.

Floats are rounded through their shortest decimal text (``repr``), so 2.675 is the decimal 2.675 that the
instrument printed, not the binary 2.67499999….
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

__all__ = ["SOURCE", "reported", "round_gb8170"]

SOURCE = "GB/T 8170-2008 §3.2"


def round_gb8170(x: float, *, significant_figures: int | None = None, decimals: int | None = None) -> str:
    """`x` rounded to `significant_figures` or to `decimals` places (exactly one of them), as text."""
    if (significant_figures is None) == (decimals is None):
        raise ValueError("give either significant_figures or decimals")
    if not math.isfinite(x):
        raise ValueError(f"cannot round {x!r}")
    value = Decimal(repr(float(x)))
    if value == 0:
        places = decimals if decimals is not None else max(0, (significant_figures or 1) - 1)
        return format(Decimal(0).quantize(Decimal(1).scaleb(-places)), "f")
    if significant_figures is not None:
        if significant_figures < 1:
            raise ValueError("significant_figures must be at least 1")
        exponent = value.adjusted() - significant_figures + 1  # the power of ten of the last kept digit
    else:
        assert decimals is not None
        exponent = -decimals
    rounded = abs(value).quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_EVEN)
    if significant_figures is not None and rounded.adjusted() > value.adjusted():  # 9.995 → 10.0 at 3 s.f.
        rounded = rounded.quantize(Decimal(1).scaleb(exponent + 1), rounding=ROUND_HALF_EVEN)
    text = format(rounded.copy_sign(value), "f") if rounded else format(rounded, "f")
    return text


def reported(x: float | None, method: Mapping[str, Any]) -> str | None:
    """The figure people read for `x` under the item's `significant_figures` or `decimals`, else None."""
    if x is None or not math.isfinite(x):
        return None
    figures, decimals = method.get("significant_figures"), method.get("decimals")
    if isinstance(figures, int) and not isinstance(figures, bool):
        return round_gb8170(x, significant_figures=figures)
    if isinstance(decimals, int) and not isinstance(decimals, bool):
        return round_gb8170(x, decimals=decimals)
    return None
