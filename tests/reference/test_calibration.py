"""The shipped calibration curves: each decision level falls inside the curve for the nominal sample mass and extract
volume, and the standards lie on the analyzer's line (the simulated instruments read on the same slope)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from lims.judgement.spectro import CalibrationCurve
from lims.services.reference import reference_data
from simulators.spectro import ITEMS as ANALYZER

DOC = yaml.safe_load((reference_data.shipped_reference_dir() / "items.yaml").read_text(encoding="utf-8"))
SPECTRO = {it["code"]: it for it in DOC["items"] if it["family"] == "spectro"}
PER_MG_KG = {"mg/kg": 1.0, "g/kg": 1000.0}

# item, category: concentration in the extract at the decision level, worked by hand (c = X × m / V)
DECISIONS = [
    ("HCHO", "SOAKED_AQUATIC", 1.0),  # detection limit 5 mg/kg × 10 g / 50 mL
    ("NO2", "CURED_MEAT", 1.5),  # 30 mg/kg × 5 g / 100 mL
    ("NO2", "PICKLES", 1.0),  # 20 mg/kg × 5 g / 100 mL
    ("SO2", "DRIED_FRUIT", 2.0),  # 0.1 g/kg = 100 mg/kg × 2 g / 100 mL
    ("SO2", "MUSHROOM", 1.0),  # 0.05 g/kg = 50 mg/kg × 2 g / 100 mL
    ("BORAX", "NOODLES", 2.0),  # detection limit 20 mg/kg × 5 g / 50 mL
    ("RONG", "NOODLES", 1.0),  # detection limit 10 mg/kg (as HCHO) × 5 g / 50 mL
]


def _limit(item: str, category: str) -> dict[str, Any]:
    return next(lim for lim in DOC["limits"] if lim["item"] == item and category in lim["categories"])


@pytest.mark.parametrize(("item", "category", "conc"), DECISIONS, ids=[f"{i}-{c}" for i, c, _ in DECISIONS])
def test_the_decision_level_sits_inside_the_curve(item: str, category: str, conc: float) -> None:
    method = SPECTRO[item]["method"]
    limit = _limit(item, category)
    level = limit["limit"] if limit["limit"] is not None else method["detection_limit"]
    in_extract = level * PER_MG_KG[limit["unit"]] * method["sample_mass_g"] / method["extract_volume_ml"]
    assert in_extract == pytest.approx(conc)
    concs = [c for c, _ in method["standards"]]
    assert concs[0] == 0.0 and concs == sorted(concs)
    top = concs[-1]
    assert 0.2 * top <= in_extract <= 0.8 * top, (item, in_extract, top)
    assert (
        sum(c < in_extract for c in concs) >= 2 and sum(c > in_extract for c in concs) >= 2
    )  # standards on both sides


@pytest.mark.parametrize("item", sorted(SPECTRO))
def test_the_standards_lie_on_the_analyzers_line(item: str) -> None:
    method = SPECTRO[item]["method"]
    curve = CalibrationCurve.from_standards(
        [(c, a) for c, a in method["standards"]], method["conc_unit"], min_r_squared=0.9999
    )
    assert curve.slope == pytest.approx(ANALYZER[item].slope, rel=1e-3) and curve.intercept == pytest.approx(
        0.0, abs=1e-3
    )
    assert method["wavelength_nm"] == ANALYZER[item].wavelength_nm
    assert curve.max_conc * curve.slope < 1.5  # every standard reads inside a photometer's linear range
