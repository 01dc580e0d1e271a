"""GS1 EPCIS 2.0 JSON-LD export of published quick-test results as ObjectEvents with sensor reports."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from barcodes.gs1 import CodeError, parse_digital_link, parse_gtin

__all__ = [
    "CASE_STATES",
    "EPCIS_CONTEXT",
    "MEASUREMENT_TYPES",
    "QUALITATIVE_TYPE",
    "UNIT_CODES",
    "EpcisError",
    "epcis_document",
    "lot_problem",
    "measurement_type",
    "object_event",
]

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
EXT_NS = "https://lims.example.org/epcis/"  # namespace of our extension fields (overridable)
# UN/CEFACT Recommendation 20 unit codes for the units quick tests report.
UNIT_CODES: dict[str, str] = {
    "mg/kg": "NA",
    "µg/kg": "J33",
    "ug/kg": "J33",
    "g/kg": "GK",
    "mg/L": "M1",
    "g/L": "GL",
    "%": "P1",
}
# Every sensorReport needs a `type`: a CBV 2.0 measurement type (GS1 Web Vocabulary gs1:MeasurementType, the
# enumeration in GS1's EPCIS 2.0 JSON Schema, measurement-type-JSON-Schema.json). A residue in mg/kg or µg/kg
# and an inhibition rate in % are ratios of like quantities, so "Dimensionless" (GS1's own EPCIS examples type a
# chemical substance's content so; the EPCIS 2.0 Implementation Guideline §5.9 example 4 calls it a dimensionless
# concentration); mass per volume (mg/L, g/L) is "MassConcentration" (UN/CEFACT M1, GL).
MEASUREMENT_TYPES: dict[str, str] = {
    "mg/kg": "Dimensionless",
    "µg/kg": "Dimensionless",
    "ug/kg": "Dimensionless",
    "g/kg": "Dimensionless",
    "%": "Dimensionless",
    "mg/L": "MassConcentration",
    "g/L": "MassConcentration",
}
# A report without a measured value (a yes/no screening outcome in booleanValue) has no unit: dimensionless.
QUALITATIVE_TYPE = "Dimensionless"
# Where the legal procedure of a screening positive stands (lims CaseState values), carried as ext:caseState.
# No CBV disposition is set: "conformant"/"non_conformant" state what the objects are after *this* event, and
# the quick test determines neither; the laboratory's later verdict is not this event.
CASE_STATES = ("screening_positive", "retest_in_progress", "confirmed", "cleared", "no_retest")
_BIZ_STEPS = ("inspecting", "sampling")


class EpcisError(ValueError):
    """A result that cannot be expressed as an EPCIS event; the message names the field."""


def _time(value: Any, field: str) -> dt.datetime:
    if isinstance(value, dt.datetime):
        t = value
    elif isinstance(value, str):
        try:
            t = dt.datetime.fromisoformat(value)
        except ValueError as exc:
            raise EpcisError(f"{field}: not an ISO 8601 date-time: {value!r}") from exc
    else:
        raise EpcisError(f"{field} is required")
    if t.tzinfo is None:
        raise EpcisError(f"{field} must carry a time-zone offset")
    return t


def _offset(t: dt.datetime) -> str:
    off = t.utcoffset() or dt.timedelta(0)
    minutes = int(off.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _what(result: Mapping[str, Any], dl_domain: str) -> dict[str, Any]:
    """epcList (serialised item) or quantityList (a lot / class) in GS1 Digital Link form."""
    gtin_text = result.get("gtin")
    if not gtin_text:
        sample = result.get("sample_url") or result.get("sample_id")
        if not sample:
            raise EpcisError("a result needs a gtin or a sample_id/sample_url")
        return {"epcList": [str(sample) if str(sample).startswith("http") else f"{EXT_NS}sample/{quote(str(sample))}"]}
    try:
        gtin14 = parse_gtin(str(gtin_text)).gtin14
    except CodeError as exc:
        raise EpcisError(f"gtin: {exc.reason}") from exc
    base = f"https://{dl_domain}/01/{gtin14}"
    if result.get("serial"):
        return {"epcList": [_checked(f"{base}/21/{quote(str(result['serial']), safe='')}")]}
    if result.get("lot"):
        return {"quantityList": [{"epcClass": _checked(f"{base}/10/{quote(str(result['lot']), safe='')}")}]}
    return {"quantityList": [{"epcClass": base}]}


def _checked(uri: str) -> str:
    """The Digital Link URI, after checking lot/serial characters against GS1 rules."""
    try:
        parse_digital_link(uri)
    except CodeError as exc:
        raise EpcisError(f"lot/serial: {exc.reason}") from exc
    return uri


# GS1's own example GTIN: a well-formed product to check a lot against.
_EXAMPLE_GTIN = "09506000134352"


def lot_problem(lot: str) -> str | None:
    """Why `lot` cannot be a GS1 AI (10) batch/lot value, or None when it can."""
    try:
        _checked(f"https://id.gs1.org/01/{_EXAMPLE_GTIN}/10/{quote(lot, safe='')}")
    except EpcisError as exc:
        return str(exc)
    return None


def measurement_type(unit: str | None) -> str:
    """The CBV measurement type of a report in `unit` (none: a qualitative report)."""
    if not unit:
        return QUALITATIVE_TYPE
    if unit not in MEASUREMENT_TYPES:
        raise EpcisError(f"unit {unit!r} has no CBV measurement type; known: {', '.join(MEASUREMENT_TYPES)}")
    return MEASUREMENT_TYPES[unit]


def _report(result: Mapping[str, Any]) -> dict[str, Any]:
    has_value = result.get("value") is not None
    report: dict[str, Any] = {"type": measurement_type(str(result.get("unit") or "") if has_value else None)}
    if result.get("item_url"):
        report["chemicalSubstance"] = str(result["item_url"])
    if result.get("value") is not None:
        try:
            report["value"] = float(result["value"])
        except (TypeError, ValueError) as exc:
            raise EpcisError(f"value: not a number: {result['value']!r}") from exc
        unit = result.get("unit")
        if unit:
            if unit not in UNIT_CODES:
                raise EpcisError(f"unit {unit!r} has no UN/CEFACT code; known: {', '.join(UNIT_CODES)}")
            report["uom"] = UNIT_CODES[unit]
    if result.get("judgement"):
        report["stringValue"] = str(result["judgement"])
    if result.get("positive") is not None:
        report["booleanValue"] = bool(result["positive"])
    if result.get("raw_data_url"):
        report["rawData"] = str(result["raw_data_url"])
    report["ext:item"] = str(result.get("item_code", ""))
    if result.get("item_name"):
        report["ext:itemName"] = str(result["item_name"])
    if result.get("method"):
        report["ext:method"] = str(result["method"])
    if result.get("limit") is not None:
        report["ext:limit"] = result["limit"]
    if result.get("detection_limit") is not None:
        report["ext:detectionLimit"] = float(result["detection_limit"])
        if result.get("detection_limit_unit"):
            report["ext:detectionLimitUnit"] = str(result["detection_limit_unit"])
    if result.get("screening") is not None:
        report["ext:screening"] = bool(result["screening"])
    return report


def object_event(result: Mapping[str, Any], *, dl_domain: str = "id.gs1.org") -> dict[str, Any]:
    """One ObjectEvent (action OBSERVE, bizStep inspecting or sampling) for one published result dict.

    Keys read: tested_at (ISO date-time with offset), gtin, lot, batch_as_printed, serial, sample_id/sample_url,
    biz_step, read_point (URI), item_code, item_name, item_url, value, unit, judgement,
    positive, method, limit, detection_limit, detection_limit_unit, screening, case_state, device_id,
    raw_data_url, result_id.
    """
    t = _time(result.get("tested_at"), "tested_at")
    step = str(result.get("biz_step") or "inspecting")
    if step not in _BIZ_STEPS:
        raise EpcisError(f"biz_step must be one of {', '.join(_BIZ_STEPS)}")
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": t.isoformat(timespec="milliseconds"),
        "eventTimeZoneOffset": _offset(t),
        **_what(result, dl_domain),
        "action": "OBSERVE",
        "bizStep": step,
    }
    if result.get("batch_as_printed"):
        # A batch the package prints that is not a GS1 lot: kept as printed, outside the GS1 identifiers.
        event["ext:batchAsPrinted"] = str(result["batch_as_printed"])
    if result.get("case_state"):
        state = str(result["case_state"])
        if state not in CASE_STATES:
            raise EpcisError(f"case_state must be one of {', '.join(CASE_STATES)}")
        event["ext:caseState"] = state
    if result.get("read_point"):
        event["readPoint"] = {"id": str(result["read_point"])}
    metadata: dict[str, Any] = {"time": event["eventTime"]}
    if result.get("device_id"):
        metadata["deviceID"] = str(result["device_id"])
    if step == "inspecting":
        event["sensorElementList"] = [{"sensorMetadata": metadata, "sensorReport": [_report(result)]}]
    # Stable id: the same result exported twice gives the same event id.
    identity = json.dumps({k: str(v) for k, v in sorted(result.items())}, ensure_ascii=False)
    event["eventID"] = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, EXT_NS + identity)}"
    return event


def epcis_document(
    results: Sequence[Mapping[str, Any]],
    *,
    created: dt.datetime | None = None,
    dl_domain: str = "id.gs1.org",
    ext_namespace: str = EXT_NS,
) -> dict[str, Any]:
    """An EPCISDocument (JSON-LD, schemaVersion 2.0) with one ObjectEvent per result, in input order."""
    when = created or dt.datetime.now(dt.UTC)
    return {
        "@context": [EPCIS_CONTEXT, {"ext": ext_namespace}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": when.isoformat(timespec="seconds"),
        "epcisBody": {"eventList": [object_event(r, dl_domain=dl_domain) for r in results]},
    }
