"""GTINs as the LIMS stores them: validated by the GS1 rules in `barcodes.gs1`, kept in GTIN-14 form."""

from __future__ import annotations

from barcodes.gs1 import CodeError, parse_gtin
from lims.i18n import _N
from lims.services.core.errors import Invalid


def normalise(code: str) -> str:
    """The GTIN-14 form of a valid GTIN-8/12/13/14 (so UPC-A and EAN-13 forms are one product), or Invalid."""
    try:
        return parse_gtin(code.strip()).gtin14
    except CodeError as exc:
        raise Invalid(
            "gs1.invalid", _N("{problem}"), problem=exc.reason, details={"reason_zh": exc.reason_zh}
        ) from None
