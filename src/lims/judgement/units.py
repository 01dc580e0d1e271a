"""Unit table for colorimetric results: solution concentration × volume / mass → content in the sample."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = ["CONTENT_UNITS_MG_PER_KG", "SOLUTION_UNITS_MG_PER_L", "content_factor", "normalise_unit"]

# Concentration of the measured solution, as milligrams per litre.
SOLUTION_UNITS_MG_PER_L: Final = MappingProxyType(
    {
        "g/L": 1000.0,
        "mg/mL": 1000.0,
        "mg/L": 1.0,
        "µg/mL": 1.0,
        "µg/L": 0.001,
        "ng/mL": 0.001,
    }
)

# Content of the sample (the unit limits are written in), as milligrams per kilogram.
CONTENT_UNITS_MG_PER_KG: Final = MappingProxyType(
    {
        "g/kg": 1000.0,
        "mg/g": 1000.0,
        "mg/kg": 1.0,
        "µg/g": 1.0,
        "µg/kg": 0.001,
        "ng/g": 0.001,
    }
)

# The micro sign (U+00B5), the Greek small mu (U+03BC) and a plain "u" all mean micro.
_MICRO_SPELLINGS: Final = ("μ", "u")


def normalise_unit(unit: str) -> str:
    """The table's spelling of a unit: trimmed, micro written as 'µ' (U+00B5)."""
    text = unit.strip().replace(" ", "")
    for spelling in _MICRO_SPELLINGS:
        if text.startswith(spelling):
            text = "µ" + text[len(spelling) :]
    return text


def content_factor(solution_unit: str, content_unit: str) -> float:
    """Factor f such that content = f × conc × volume[mL] × dilution / mass[g], in content_unit.

    The base identity is mg/L × mL / g = (mg/1000 mL) × mL / (kg/1000) = mg/kg, so
    f = (solution unit in mg/L) / (content unit in mg/kg).  Example: a nitrite solution at
    0.10 µg/mL from 5.0 g made up to 100 mL gives 0.10 × 100 / 5.0 = 2.0 mg/kg.
    """
    solution = normalise_unit(solution_unit)
    content = normalise_unit(content_unit)
    if solution not in SOLUTION_UNITS_MG_PER_L:
        known = ", ".join(SOLUTION_UNITS_MG_PER_L)
        raise ValueError(f"unknown solution concentration unit {solution_unit!r} (known: {known})")
    if content not in CONTENT_UNITS_MG_PER_KG:
        known = ", ".join(CONTENT_UNITS_MG_PER_KG)
        raise ValueError(f"unknown sample content unit {content_unit!r} (known: {known})")
    return SOLUTION_UNITS_MG_PER_L[solution] / CONTENT_UNITS_MG_PER_KG[content]
