"""Westgard multi-rules over a quantitative control's runs (pure: plain numbers in, rule names out).

Westgard JO, Barry PL, Hunt MR, Groth T. A multi-rule Shewhart chart for quality control in clinical chemistry.
Clin Chem 1981;27:493-501. Each rule looks at the latest run and the runs before it, in SD units from the mean:

- ``1-2s``  the latest run lies beyond ±2 SD (a warning in the textbook scheme)
- ``1-3s``  the latest run lies beyond ±3 SD (random error)
- ``2-2s``  the latest two runs lie beyond 2 SD on the same side (systematic error)
- ``R-4s``  the latest two runs differ by more than 4 SD, one above +2 SD and one below −2 SD (random error)
- ``4-1s``  the latest four runs lie beyond 1 SD on the same side (systematic error)
- ``10x``   the latest ten runs lie on the same side of the mean (systematic error)

Which rules warn and which reject is configuration (reference/qc.yaml), not this module.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

__all__ = ["RULES", "Evaluation", "baseline", "evaluate", "evaluate_series", "z_scores"]


def _beyond(z: float, limit: float) -> bool:
    return abs(z) > limit + 1e-9


def _same_side(zs: Sequence[float], limit: float) -> bool:
    return all(z > limit + 1e-9 for z in zs) or all(z < -limit - 1e-9 for z in zs)


def _r4s(zs: Sequence[float]) -> bool:
    if len(zs) < 2:
        return False
    a, b = zs[-2], zs[-1]
    return abs(a - b) > 4 + 1e-9 and ((a > 2 and b < -2) or (a < -2 and b > 2))


RULES: dict[str, Callable[[Sequence[float]], bool]] = {
    "1-2s": lambda zs: bool(zs) and _beyond(zs[-1], 2),
    "1-3s": lambda zs: bool(zs) and _beyond(zs[-1], 3),
    "2-2s": lambda zs: len(zs) >= 2 and _same_side(zs[-2:], 2),
    "R-4s": _r4s,
    "4-1s": lambda zs: len(zs) >= 4 and _same_side(zs[-4:], 1),
    "10x": lambda zs: len(zs) >= 10 and _same_side(zs[-10:], 0),
}
"""Every rule this module knows, by its textbook name."""


@dataclass(frozen=True)
class Evaluation:
    """What the rules say of the latest run: its z-score, the warnings and the rejections it breaks."""

    z: float
    warnings: tuple[str, ...]
    rejections: tuple[str, ...]

    @property
    def rejected(self) -> bool:
        """True when a rejection rule is broken: the run (and what it controls) must not be relied on."""
        return bool(self.rejections)


def z_scores(values: Sequence[float], mean: float, sd: float) -> list[float]:
    """Each value in SD units from the mean."""
    if not math.isfinite(sd) or sd <= 0:
        raise ValueError(f"sd must be a positive number, got {sd!r}")
    return [(v - mean) / sd for v in values]


def baseline(values: Sequence[float]) -> tuple[float, float] | None:
    """Mean and sample SD of the runs that establish a lot's values, or None with fewer than two runs or no spread."""
    if len(values) < 2:
        return None
    sd = statistics.stdev(values)
    return (statistics.fmean(values), sd) if sd > 0 else None


def _check(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in RULES]
    if unknown:
        raise ValueError(f"unknown Westgard rule(s) {', '.join(unknown)}; known: {', '.join(RULES)}")


def evaluate(
    values: Sequence[float],
    mean: float,
    sd: float,
    *,
    warning: Sequence[str] = ("1-2s",),
    rejection: Sequence[str] = ("1-3s", "2-2s"),
) -> Evaluation:
    """Apply the rules to the latest of `values` (oldest first), with the runs before it as its history."""
    _check([*warning, *rejection])
    if not values:
        raise ValueError("evaluate needs at least one value")
    zs = z_scores(values, mean, sd)
    rejections = tuple(name for name in rejection if RULES[name](zs))
    # a rejected run is rejected: its warnings are not listed besides
    warnings = () if rejections else tuple(name for name in warning if RULES[name](zs))
    return Evaluation(z=zs[-1], warnings=warnings, rejections=rejections)


def evaluate_series(
    values: Sequence[float],
    mean: float,
    sd: float,
    *,
    warning: Sequence[str] = ("1-2s",),
    rejection: Sequence[str] = ("1-3s", "2-2s"),
) -> list[Evaluation]:
    """`evaluate` at every run of the series, each with the runs before it (for a Levey-Jennings chart)."""
    return [evaluate(values[: i + 1], mean, sd, warning=warning, rejection=rejection) for i in range(len(values))]
