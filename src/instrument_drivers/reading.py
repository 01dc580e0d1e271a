"""The `Reading` record every driver yields: one instrument result with its raw data."""

from __future__ import annotations

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
    family: str  # "pesticide" | "gold" | "spectro"
    sequence: int
    item_code: str
    channel: int | None = None
    sample_label_id: str | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    value: float | None = None  # the instrument's own computed value (inhibition %, T/C, concentration)
    unit: str | None = None
    judgement: str | None = None  # the instrument's own: "negative" | "positive" | "invalid"
    instrument_time: datetime | None = None

    def key(self) -> tuple[str, int]:
        """Identity of the reading across re-sends."""
        return (self.instrument_serial, self.sequence)
