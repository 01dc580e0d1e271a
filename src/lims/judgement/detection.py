"""The detection limit a result was judged with: the judgement's own figure (the kit lot's for the sample's
matrix, or the item's), else the item's method figure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["detection_limit"]


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) and number >= 0 else None


def detection_limit(
    raw: Mapping[str, Any] | None, method: Mapping[str, Any] | None, item_unit: str
) -> tuple[float | None, str]:
    """The detection limit a result was judged with and its unit: the judgement's own figure (raw["details"]),
    else the item's method figure (in the item's unit), else none."""
    details = (raw or {}).get("details")
    if isinstance(details, Mapping):
        found = _number(details.get("detection_limit"))
        if found is not None:
            unit = details.get("detection_limit_unit")
            return found, str(unit) if isinstance(unit, str) and unit else item_unit
    found = _number((method or {}).get("detection_limit"))
    return (found, item_unit) if found is not None else (None, "")
