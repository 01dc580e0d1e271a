"""Pure judgement functions per instrument family, driven by reference data."""

from lims.judgement.enzyme import (
    DEFAULT_ENZYME_METHOD,
    ENZYME_METHOD_SOURCE,
    EnzymeMethod,
    judge_enzyme,
    judge_enzyme_deltas,
)
from lims.judgement.gold import GoldKit, judge_gold
from lims.judgement.outcome import Judgement, Outcome
from lims.judgement.raw import CannotJudge, FiniteFloat, JudgeContext, KitFigures, RawError, RawFigures
from lims.judgement.spectro import MIN_R_SQUARED, CalibrationCurve, ItemLimit, fit_line, judge_spectro
from lims.judgement.units import content_factor, normalise_unit

__all__ = [
    "DEFAULT_ENZYME_METHOD",
    "ENZYME_METHOD_SOURCE",
    "MIN_R_SQUARED",
    "CalibrationCurve",
    "CannotJudge",
    "EnzymeMethod",
    "FiniteFloat",
    "GoldKit",
    "ItemLimit",
    "JudgeContext",
    "Judgement",
    "KitFigures",
    "Outcome",
    "RawError",
    "RawFigures",
    "content_factor",
    "fit_line",
    "judge_enzyme",
    "judge_enzyme_deltas",
    "judge_gold",
    "judge_spectro",
    "normalise_unit",
]
