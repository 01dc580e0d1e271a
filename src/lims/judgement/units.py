"""Unit table for colorimetric results: solution concentration × volume / mass → content in the sample."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

__all__ = [
    "BASES",
    "CONTENT_UNITS_MG_PER_KG",
    "SOLUTION_UNITS_MG_PER_L",
    "basis_factor",
    "content_factor",
    "normalise_unit",
]

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


# Molar masses (g/mol) of the substances a content is expressed as, from the atomic weights
# Na 22.98977, N 14.0067, O 15.9994: NaNO2 = 68.9953 → 69.00; NO2⁻ = 46.0055 → 46.01 (four significant figures).
BASES: Final = MappingProxyType({"NaNO2": 69.00, "NO2-": 46.01})


def basis_factor(measured_as: str, expressed_as: str) -> float:
    """Factor turning a content measured as one substance into the substance the limit is expressed as.

    Nitrite measured as NO₂⁻ and expressed as NaNO₂ (GB 2760 / GB 2762 以亚硝酸钠计): × 69.00 / 46.01 ≈ 1.4997."""
    if not measured_as or not expressed_as or measured_as == expressed_as:
        return 1.0
    for name in (measured_as, expressed_as):
        if name not in BASES:
            raise ValueError(f"unknown basis of expression {name!r} (known: {', '.join(BASES)})")
    return BASES[expressed_as] / BASES[measured_as]
