"""The `Reading` record every driver yields: one instrument result with its raw data."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Reading:
    """One result as an instrument reported it, before the LIMS judges it again.

    `sequence` is the instrument's own record number; together with `instrument_serial` it identifies a
    reading, so a record re-sent after a reconnect or a crash can be stored once.
    """

    instrument_serial: str
    family: str  # a family of `instrument_drivers.family_registry`
    sequence: int
    item_code: str
    channel: int | None = None
    sample_label_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    value: float | None = None  # the instrument's own computed value (inhibition %, T/C, concentration)
    unit: str | None = None
    judgement: str | None = None  # the instrument's own: "negative" | "positive" | "invalid"
    instrument_time: datetime | None = None
    evidence: bytes | None = field(default=None, repr=False)  # what was measured (a card photo), kept by storage

    def key(self) -> tuple[str, int]:
        """Identity of the reading across re-sends."""
        return (self.instrument_serial, self.sequence)

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (instrument time as ISO 8601 text, without a zone: instrument time)."""
        return {
            "instrument_serial": self.instrument_serial,
            "family": self.family,
            "sequence": self.sequence,
            "item_code": self.item_code,
            "channel": self.channel,
            "sample_label_id": self.sample_label_id,
            "raw": dict(self.raw),
            "value": self.value,
            "unit": self.unit,
            "judgement": self.judgement,
            "instrument_time": self.instrument_time.isoformat() if self.instrument_time else None,
            **({"evidence": base64.b64encode(self.evidence).decode("ascii")} if self.evidence is not None else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Reading:
        """The inverse of `as_dict`."""
        when = data.get("instrument_time")
        return cls(
            instrument_serial=data["instrument_serial"],
            family=data["family"],
            sequence=int(data["sequence"]),
            item_code=data["item_code"],
            channel=data.get("channel"),
            sample_label_id=data.get("sample_label_id"),
            raw=dict(data.get("raw") or {}),
            value=data.get("value"),
            unit=data.get("unit"),
            judgement=data.get("judgement"),
            instrument_time=datetime.fromisoformat(when) if when else None,
            evidence=base64.b64decode(data["evidence"]) if data.get("evidence") else None,
        )
