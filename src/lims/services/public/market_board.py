"""A market's public board (公示): one sampling point's published results of the last local days, the disposal
of its failing products, and its district's warnings in force. Only what the public may see.

Not the station's case board (``services.cases.board``): this one is read by shoppers at the market entrance.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlmodel import Session, col

from lims.i18n import _N, terms
from lims.models import District, PositiveCase, Sample, SamplingPoint, TestItem, TestResult
from lims.models.board import BoardDisposal, BoardResult, BoardWarning, MarketBoard
from lims.models.common import JudgementOutcome
from lims.services.cases import procedure, warnings
from lims.services.core import clock, visibility
from lims.services.core.errors import NotFound
from lims.services.public import states

# Today and the days before it (district-local days); a board may ask for up to two weeks.
DEFAULT_DAYS = 3
MAX_DAYS = 14
# What one board lists at most: a market's point sees a few dozen tests a day.
MAX_RESULTS = 300
MAX_DISPOSALS = 40
MAX_WARNINGS = 6
POINT_CODE = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
DISTRICT_CODE = re.compile(r"^[A-Za-z]{2}$")
# One answer for a malformed code, an unknown point and a point of an unknown district.
NO_BOARD = _N("there is no public board for point {point}")
AMBIGUOUS = _N("several districts have a point {point}: add the district to the address, e.g. ?district={district}")


def find_point(session: Session, point_code: str, district_code: str | None = None) -> tuple[SamplingPoint, District]:
    """The point with this code (in the named district, or the only district that has one) and its district."""
    shown = point_code[:16]
    if not POINT_CODE.match(point_code) or (district_code is not None and not DISTRICT_CODE.match(district_code)):
        raise NotFound("board.no_board", NO_BOARD, point=shown)
    statement = (
        select(SamplingPoint, District)
        .join(District, col(District.id) == col(SamplingPoint.district_id))
        .where(col(SamplingPoint.code) == point_code)
        .order_by(col(District.code))
        .limit(2)
    )
    if district_code is not None:
        statement = statement.where(col(District.code) == district_code.upper())
    found = session.execute(statement).all()
    if not found:
        raise NotFound("board.no_board", NO_BOARD, point=shown)
    if len(found) > 1:
        raise NotFound("board.ambiguous_point", AMBIGUOUS, point=shown, district=found[0][1].code)
    point, district = found[0]
    return point, district


def _results(session: Session, point: SamplingPoint, start: Any, end: Any) -> list[Any]:
    """The point's public, valid results tested in [start, end), newest first (repeat runs count in their result)."""
    statement: Any = (
        select(
            col(TestResult.id).label("result_id"),
            col(TestResult.judgement),
            col(TestResult.tested_at),
            col(Sample.label_id),
            col(Sample.product_name),
            col(Sample.vendor),
            col(Sample.stall),
            col(TestItem.code),
            col(TestItem.name_zh),
            col(TestItem.name_en),
        )
        .join(Sample, col(Sample.id) == col(TestResult.sample_id))
        .join(TestItem, col(TestItem.id) == col(TestResult.item_id))
        .where(
            col(Sample.point_id) == point.id,
            col(TestResult.district_id) == point.district_id,
            visibility.public_only(),
            col(TestResult.repeat_of_id).is_(None),
            col(TestResult.judgement).in_([JudgementOutcome.NEGATIVE.value, JudgementOutcome.POSITIVE.value]),
            col(TestResult.tested_at) >= start,
            col(TestResult.tested_at) < end,
        )
        .order_by(col(TestResult.tested_at).desc(), col(TestResult.id).desc())
        .limit(MAX_RESULTS + 1)
    )
    return list(session.execute(statement).all())


def _disposals(session: Session, point: SamplingPoint, start: Any) -> list[BoardDisposal]:
    """The point's cases on public results that are still open, or were tested or closed within the days."""
    statement = (
        select(PositiveCase, col(TestResult.tested_at), Sample, TestItem)
        .join(TestResult, col(TestResult.id) == col(PositiveCase.result_id))
        .join(Sample, col(Sample.id) == col(TestResult.sample_id))
        .join(TestItem, col(TestItem.id) == col(TestResult.item_id))
        .where(
            col(PositiveCase.point_id) == point.id,
            col(PositiveCase.district_id) == point.district_id,
            visibility.public_only(),
            or_(
                col(PositiveCase.closed_at).is_(None),
                col(PositiveCase.closed_at) >= start,
                col(TestResult.tested_at) >= start,
            ),
        )
        .order_by(col(TestResult.tested_at).desc(), col(PositiveCase.id).desc())
        .limit(MAX_DISPOSALS)
    )
    now = clock.now()
    found = []
    for case, tested_at, sample, item in session.execute(statement).all():
        state = str(procedure.public_state(case, now))
        found.append(
            BoardDisposal(
                sample_label_id=sample.label_id,
                product_name=sample.product_name,
                vendor=sample.vendor,
                stall=sample.stall,
                item_code=item.code,
                item_name_zh=item.name_zh,
                item_name_en=item.name_en,
                tested_at=tested_at,
                case_state=state,
                case_state_zh=terms.case_state_name(state, "zh"),
                case_state_en=terms.case_state_name(state, "en"),
                sale_suspended_at=case.sale_suspended_at,
                disposal_action=case.disposal_action,
                disposal_quantity=case.disposal_quantity,
                disposal_unit=case.disposal_unit,
                disposal_at=case.disposal_at,
                closed=case.closed_at is not None,
            )
        )
    return found


def _warnings(session: Session, district_id: int) -> list[BoardWarning]:
    """The district's warnings in force now, newest first."""
    own = [w for w in warnings.in_force(session) if w.district_id == district_id][:MAX_WARNINGS]
    return [
        BoardWarning(
            id=int(w.id or 0),
            title_zh=w.title_zh,
            title_en=w.title_en,
            body_zh=w.body_zh,
            body_en=w.body_en,
            published_at=w.published_at,
            expires_at=w.expires_at,
        )
        for w in own
        if w.published_at is not None  # in force means published; a draft has no time yet
    ]


def board(session: Session, point_code: str, district_code: str | None = None, days: int = DEFAULT_DAYS) -> MarketBoard:
    """The public board of a point: its published results of the last `days` local days (today included), the
    disposal of its failing products, and its district's warnings in force."""
    point, district = find_point(session, point_code, district_code)
    days = max(1, min(int(days), MAX_DAYS))
    zone = clock.zone(district)
    start, end = clock.last_days(days, zone)
    today = clock.local_today(zone)
    rows = _results(session, point, start, end)
    listed = rows[:MAX_RESULTS]
    cases = states.case_states(session, [r.result_id for r in listed if r.judgement == JudgementOutcome.POSITIVE])
    results = [
        BoardResult(
            sample_label_id=r.label_id,
            product_name=r.product_name,
            vendor=r.vendor,
            stall=r.stall,
            item_code=r.code,
            item_name_zh=r.name_zh,
            item_name_en=r.name_en,
            judgement=r.judgement,
            case_state=str(cases[r.result_id]) if r.result_id in cases else None,
            tested_at=r.tested_at,
            local_day=clock.local_date(r.tested_at, zone),
        )
        for r in listed
    ]
    return MarketBoard(
        district_code=district.code,
        district_name=district.name,
        district_name_en=district.name_en,
        point_code=point.code,
        point_name=point.name,
        point_name_en=point.name_en,
        time_zone=zone.key,
        days=days,
        first_day=today - timedelta(days=days - 1),
        today=today,
        generated_at=clock.now(),
        results=results,
        more_results=len(rows) > MAX_RESULTS,
        disposals=_disposals(session, point, start),
        warnings=_warnings(session, int(district.id or 0)),
    )
