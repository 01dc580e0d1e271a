"""Early-warning signals: the district's list (reviewers and stations), and a draft warning from one (reviewers)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from lims.api.deps import CurrentUser, SessionDep
from lims.models.cases import WarningDraftPublic
from lims.models.signals import CountPublic, SignalParameters, SignalPublic, SignalRef, SignalsPublic
from lims.services.analysis import signals
from lims.services.analysis.signals import Cell, Count

router = APIRouter(prefix="/signals", tags=["signals"])


def _count(count: Count) -> CountPublic:
    return CountPublic(tested=count.tested, positive=count.positive, rate=count.rate)


def signal_public(cell: Cell) -> SignalPublic:
    """A signal as the API shows it."""
    return SignalPublic(
        point_code=cell.point,
        point_name=cell.point_zh,
        category_code=cell.category,
        category_name_zh=cell.category_zh,
        item_code=cell.item,
        item_name_zh=cell.item_zh,
        item_name_en=cell.item_en,
        window=_count(cell.window),
        urgent=_count(cell.urgent),
        history=_count(cell.history),
        district=_count(cell.district),
        p_history=cell.p_history,
        p_district=cell.p_district,
        q_history=cell.q_history,
        q_district=cell.q_district,
        strength=cell.strength,
        against=list(cell.against),
        products=list(cell.products),
    )


@router.get("")
def list_signals(session: SessionDep, actor: CurrentUser) -> SignalsPublic:
    """The district's signals today, strongest first (reviewers: reviewed results; stations: published ones)."""
    found = signals.analyse(session, actor)
    return SignalsPublic(
        window_from=found.window_from,
        window_to=found.window_to,
        history_from=found.history_from,
        parameters=SignalParameters(**asdict(found.parameters)),
        cells=found.cells,
        comparisons=found.comparisons,
        signals=[signal_public(c) for c in found.signals],
    )


@router.post("/drafts", status_code=201)
def draft(session: SessionDep, actor: CurrentUser, body: SignalRef) -> WarningDraftPublic:
    """Turn a signal into a draft warning (reviewer); it is not public until a reviewer publishes it."""
    warning = signals.draft_warning(session, actor, body.point.strip(), body.category.strip(), body.item.strip())
    session.commit()
    return WarningDraftPublic.model_validate(warning, from_attributes=True)
