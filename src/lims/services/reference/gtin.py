"""GTINs as the LIMS stores them: validated by the GS1 rules in `barcodes.gs1`, kept in GTIN-14 form."""

from __future__ import annotations

from barcodes.gs1 import CodeError, parse_gtin
from lims.i18n import _N, render_message
from lims.services.core.errors import Invalid


def refusal(exc: CodeError) -> Invalid:
    """A GS1 problem as a refusal: the problem's own code and parameters, its text in the reader's language.

    The API's JSON also carries the Chinese text (``reason_zh``) for clients that read the English ``detail``."""
    return Invalid(
        "gs1.invalid",
        _N("{problem}"),
        problem=exc.message,
        problem_code=exc.code,
        details={"reason_zh": render_message(exc.message, "zh")},
    )


def normalise(code: str) -> str:
    """The GTIN-14 form of a valid GTIN-8/12/13/14 (so UPC-A and EAN-13 forms are one product), or Invalid."""
    try:
        return parse_gtin(code.strip()).gtin14
    except CodeError as exc:
        raise refusal(exc) from None
