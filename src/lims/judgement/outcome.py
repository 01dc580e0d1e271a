"""Outcome of a quick-test judgement and the record that explains it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from lims.judgement.reasons import reason_text

__all__ = ["Judgement", "Outcome"]


class Outcome(StrEnum):
    """Screening outcome of one test: a positive is suspected (疑似阳性) until confirmed."""

    NEGATIVE = "negative"
    POSITIVE = "positive"
    INVALID = "invalid"


@dataclass(frozen=True)
class Judgement:
    """A judged result: outcome, the figure it rests on, why, and the intermediate figures."""

    outcome: Outcome
    value: float | None
    unit: str
    reason_code: str
    reason_params: dict[str, Any] = field(default_factory=dict)
    details: dict[str, float | str | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Refuse a non-finite value: a judgement carries a real number or none."""
        if self.value is not None and not math.isfinite(self.value):
            raise ValueError(f"Judgement value must be finite or None, got {self.value!r}")

    @property
    def reason(self) -> str:
        """Why, in English (`lims.i18n.judgement_reason` gives it in the reader's language)."""
        return reason_text(self.reason_code, self.reason_params)
