"""Number helpers shared by the judgement functions: tolerant comparison and formatting."""

from __future__ import annotations

import math

# Instruments report absorbances to 0.001 and intensities to a few significant digits, so a difference
# such as 0.712 - 0.412 may come out as 0.29999999999999993.  Boundaries ("at least 0.3", "≥ 50 %",
# "T/C below the cut-off", "above the limit") are compared with this relative tolerance so that float
# noise never flips a result that sits exactly on a boundary.
REL_TOL = 1e-9


def tol(bound: float) -> float:
    """Absolute tolerance used around ``bound``."""
    return REL_TOL * max(1.0, abs(bound))


def at_least(x: float, bound: float) -> bool:
    """``x >= bound``, counting a value within float noise of the bound as equal to it."""
    return x >= bound - tol(bound)


def above(x: float, bound: float) -> bool:
    """``x > bound``, counting a value within float noise of the bound as equal to it (not above)."""
    return x > bound + tol(bound)


def finite(*xs: float) -> bool:
    """True when every argument is a finite real number."""
    return all(isinstance(x, int | float) and math.isfinite(x) for x in xs)


def fmt(x: float) -> str:
    """Format a figure for a sentence: six significant digits, no float noise, no negative zero."""
    if not math.isfinite(x):
        return str(x)
    text = format(x + 0.0, ".6g")
    return "0" if text == "-0" else text


def clean(x: float | None) -> float | str | None:
    """A JSON-safe detail value: non-finite floats become their text ('nan', 'inf')."""
    if x is None:
        return None
    if isinstance(x, int | float) and math.isfinite(x):
        return float(x)
    return str(x)
