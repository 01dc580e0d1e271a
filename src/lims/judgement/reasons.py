"""Why a judgement came out as it did: one message per reason code, rendered in the reader's language.

A judgement carries a code and its parameters (figures already formatted, the limit's source); the
text is made when someone reads it.  A parameter may itself be a reason (``{"code": …, "params": …}``),
as the two ways of "not detected" are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["LEGACY", "REASONS", "reason_text", "register"]


def _N(msgid: str) -> str:
    """Mark `msgid` for the catalogues; `lims.i18n` translates it when shown."""
    return msgid


LEGACY = "legacy_text"  # a reason stored before codes existed: the old English text is its only parameter

REASONS: dict[str, str] = {
    LEGACY: _N("{text}"),
    "non_finite_input": _N("Invalid reading: the figures are not finite numbers ({values}); repeat the test."),
    # organophosphate and carbamate enzyme inhibition
    "control_dA_too_small": _N(
        "Invalid run: the control's absorbance change over 3 min is {control_dA}, below the method's minimum of "
        "{min_control_dA}; check the enzyme and substrate and repeat the test."
    ),
    "inhibition_above_threshold": _N(
        "Suspected positive: inhibition {inhibition} % is at or above the {threshold} % threshold "
        "(control ΔA {control_dA}, sample ΔA {sample_dA}); repeat the test and confirm by a laboratory method."
    ),
    "inhibition_negative": _N(
        "Negative: inhibition {inhibition} % is below zero because the sample reacted faster than the control "
        "(sample ΔA {sample_dA} > control ΔA {control_dA}); reported as calculated."
    ),
    "inhibition_above_100": _N(
        "Invalid run: the sample's absorbance fell over 3 min (sample ΔA {sample_dA}, control ΔA {control_dA}), "
        "which means more than 100 % inhibition and cannot happen; the extract's colour or turbidity interfered. "
        "Clarify the extract and repeat the test."
    ),
    "absorbance_out_of_range": _N(
        "Invalid reading: {values} outside the photometer's range {low} to {high}; dilute or clarify the extract "
        "and repeat the test."
    ),
    "inhibition_below_threshold": _N(
        "Negative: inhibition {inhibition} % is below the {threshold} % threshold "
        "(control ΔA {control_dA}, sample ΔA {sample_dA})."
    ),
    # colloidal gold cards
    "negative_intensity": _N(
        "Invalid card: a line intensity is negative (T {t}, C {c}), which no strip can give; "
        "check the reader and repeat the test."
    ),
    "no_c_line": _N(
        "Invalid card: no C line (C intensity {c} is below the kit's minimum of {min_c}); "
        "repeat the test with a new card."
    ),
    "no_kit_lot": _N(
        "Invalid: no kit lot recorded for {item_code}; a card is read against its own lot's cut-off, "
        "so record the lot and repeat the test."
    ),
    "kit_lot_no_matrix": _N(
        "Invalid: kit lot {lot} gives no cut-off for matrix {matrix}; the kit is not validated for this food. "
        "Use a kit whose leaflet covers it."
    ),
    "tc_at_or_above_cutoff": _N("Negative: T/C {ratio} is at or above the kit's cut-off {cutoff}."),
    "tc_below_cutoff": _N(
        "Suspected positive: T/C {ratio} is below the kit's cut-off {cutoff} "
        "(competitive format: a weaker T line means more analyte); confirm by a laboratory method."
    ),
    # spectrophotometry against a calibration curve
    "above_range_dilute": _N(
        "Out of range: the solution reads {conc} {conc_unit}, above the highest standard {max_conc} {conc_unit}; "
        "dilute the extract and repeat."
    ),
    "not_detected": _N("Not detected: {why}; reported as < {reporting_limit} {unit}."),
    "below_lowest_standard": _N(
        "the solution reads {conc} {conc_unit}, below the lowest standard {min_conc} {conc_unit}"
    ),
    "below_detection_limit": _N("{content} {unit} is below the detection limit {detection_limit} {unit}"),
    "banned_detected": _N(
        "Suspected positive: {content} {unit} found (detection limit {detection_limit} {unit}) of a substance "
        "that may not be present in food ({source}); confirm by a laboratory method."
    ),
    "above_limit": _N(
        "Suspected positive: {content} {unit} is above the limit of {limit} {unit} ({source}); "
        "confirm by a laboratory method."
    ),
    "within_limit": _N("Negative: {content} {unit} is within the limit of {limit} {unit} ({source})."),
    # conditions of the run that make any figure void
    "kit_lot_expired": _N(
        "Invalid: kit lot {lot} expired on {expires_on} and was used on {tested_on}; repeat the test with a valid kit."
    ),
    "calibration_overdue": _N(
        "Invalid: instrument {serial} was due for calibration on {due} and was used on {tested_on}; "
        "calibrate it and repeat the test."
    ),
    # a positive the method asks to repeat, and the runs consolidated
    "repeat_required": _N("Repeat required: {done} of {required} repeats done ({source}). First run: {first}"),
    "repeats_confirmed": _N(
        "Suspected positive, confirmed by {required} repeats ({runs}; mean {mean} {unit}); "
        "confirm by a laboratory method."
    ),
    "repeats_not_confirmed": _N(
        "Negative: a repeat did not confirm the first run's positive ({runs}); "
        "judged negative by the repeats ({source})."
    ),
}


class _Params(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def register(reasons: Mapping[str, str]) -> None:
    """Add a plug-in family's reason messages (code → English message id); a shipped code keeps its own."""
    for code, msgid in reasons.items():
        REASONS.setdefault(code, msgid)


def reason_text(code: str, params: Mapping[str, Any] | None, translate: Callable[[str], str] | None = None) -> str:
    """The reason `code` with `params`, in English or through `translate` (a catalogue lookup of the message id)."""
    filled = {key: _param(value, translate) for key, value in (params or {}).items()}
    msgid = REASONS.get(code)
    if msgid is None:
        return str(filled.get("text") or code)
    text = translate(msgid) if translate else msgid
    try:
        return text.format_map(_Params(filled))
    except (ValueError, IndexError, AttributeError):  # a translation with a broken placeholder
        return msgid.format_map(_Params(filled))


def _param(value: Any, translate: Callable[[str], str] | None) -> Any:
    if isinstance(value, Mapping) and isinstance(value.get("code"), str):
        return reason_text(value["code"], value.get("params"), translate)
    return value
