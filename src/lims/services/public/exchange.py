"""Exchange with other traceability systems: published results as GS1 EPCIS 2.0 JSON-LD ObjectEvents."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from barcodes.epcis import UNIT_CODES, EpcisError, epcis_document, lot_problem
from lims.i18n import _N
from lims.models.trace import TracedResult, TraceRecord
from lims.services.core.errors import Invalid
from lims.services.public import trace
from lims.services.samples import links


def _event_input(record: TraceRecord, result: TracedResult) -> dict[str, Any]:
    """What one published result says, in the keys the EPCIS builder reads."""
    lot = result.batch or record.lot
    data: dict[str, Any] = {
        "tested_at": result.tested_at.isoformat(),
        "gtin": record.gtin,
        "lot": lot,
        "sample_url": links.sample_url(result.sample_label_id),
        "biz_step": "inspecting",
        "item_code": result.item_code,
        "item_name": result.item_name_en,
        "judgement": result.judgement,
        "positive": result.judgement == "positive",
        "method": result.method_standard,
        "limit": result.limit,
        "screening": result.screening,
        "detection_limit": result.detection_limit,
        "detection_limit_unit": result.detection_limit_unit,
        "case_state": result.case_state,
    }
    if lot and lot_problem(lot):
        # The tester typed the batch as the package prints it; one that breaks GS1 lot rules names no GS1
        # lot, so the event names the product and carries the batch as printed.
        data["lot"], data["batch_as_printed"] = None, lot
    if result.value is not None and result.unit in UNIT_CODES:
        data["value"], data["unit"] = result.value, result.unit
    return data


def epcis_for(session: Session, code: str) -> dict[str, Any]:
    """An EPCIS 2.0 document with one ObjectEvent per published result for a product, lot or sample."""
    record = trace.trace(session, code)
    wanted = [r for r in record.results if not record.lot or r.batch == record.lot]
    try:
        return epcis_document([_event_input(record, r) for r in wanted])
    except EpcisError as exc:
        raise Invalid(
            "exchange.cannot_express_these_results", _N("cannot express these results in EPCIS: {exc}"), exc=exc
        ) from None
