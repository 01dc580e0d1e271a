"""What the public is told of a result beyond its judgement: a positive's case state, and that it is a screening."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from lims.i18n import _N, render, terms
from lims.models import PositiveCase
from lims.models.common import CaseState
from lims.services.cases import procedure
from lims.services.core import clock

# Every public result says what kind of result it is and how small an amount the method can see.
SCREENING_WITH_LIMIT = _N(
    "Quick-test screening result, not an official sampling inspection; detection limit {detection_limit} {unit}"
)
SCREENING_WITHOUT_LIMIT = _N(
    "Quick-test screening result, not an official sampling inspection; the method states no detection limit"
)


def case_states(session: Session, result_ids: Iterable[int], now: datetime | None = None) -> dict[int, CaseState]:
    """The public state of the case of each result that has one (positives), by result id."""
    wanted = sorted({int(i) for i in result_ids})
    if not wanted:
        return {}
    at = now or clock.now()
    cases = session.exec(select(PositiveCase).where(col(PositiveCase.result_id).in_(wanted))).all()
    return {case.result_id: procedure.public_state(case, at) for case in cases}


def described(state: CaseState | str | None) -> dict[str, Any]:
    """A case state with its public name and meaning in both languages (empty fields without a state)."""
    if state is None:
        return {
            "case_state": None,
            "case_state_zh": "",
            "case_state_en": "",
            "case_meaning_zh": "",
            "case_meaning_en": "",
        }
    value = str(state)
    return {
        "case_state": value,
        "case_state_zh": terms.case_state_name(value, "zh"),
        "case_state_en": terms.case_state_name(value, "en"),
        "case_meaning_zh": terms.case_state_meaning(value, "zh"),
        "case_meaning_en": terms.case_state_meaning(value, "en"),
    }


def _shown(number: float) -> str:
    return f"{number:g}"


def screening_statement(limit: float | None, unit: str, lang: str) -> str:
    """ "Quick-test screening result …; detection limit …" in `lang`."""
    if limit is None:
        return render(SCREENING_WITHOUT_LIMIT, lang)
    return render(SCREENING_WITH_LIMIT, lang, {"detection_limit": _shown(limit), "unit": unit})


def screening(limit: float | None, unit: str) -> dict[str, Any]:
    """The screening statement's fields of a public result, in both languages."""
    return {
        "detection_limit": limit,
        "detection_limit_unit": unit if limit is not None else "",
        "screening_zh": screening_statement(limit, unit, "zh"),
        "screening_en": screening_statement(limit, unit, "en"),
    }
