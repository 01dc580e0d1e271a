"""The market's public board at /board/{point}: a full-screen page for a display at the market entrance, its
refreshable panel, its JSON twin and the service worker that keeps a copy for when the network is down.

Public and read-only: no sign-in, no cookies set, no form token. Chinese unless ``?lang=en`` or the site's
language choice (its ``lang`` cookie) asks otherwise; a display browser's Accept-Language is not a choice.
Times are the point's district's wall-clock time.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlmodel import Session

from lims import i18n
from lims.api.deps import SessionDep
from lims.i18n import _N, DEFAULT_LANGUAGE, terms
from lims.models import District
from lims.models.board import MarketBoard
from lims.models.trace import NOTICE
from lims.services.core import clock
from lims.services.core.errors import NotFound
from lims.services.public import leads, market_board
from lims.web.common import local_time, page_router, templates
from lims.web.i18n import gettext, label

router = page_router()
SERVICE_WORKER = (Path(__file__).parent / "static" / "board-sw.js").read_bytes()
# Without script the page turns its own pages: this many rows each, the next page after `rotate` seconds.
FALLBACK_ROWS = 8
Lang = Annotated[str | None, Query(pattern=r"^(zh|en)$")]
DistrictCode = Annotated[str | None, Query(max_length=16)]
Days = Annotated[int, Query(ge=1, le=market_board.MAX_DAYS)]
# Seconds between refreshes (a test asks for 2) and between pages of results.
Refresh = Annotated[int, Query(ge=2, le=3600)]
Rotate = Annotated[int, Query(ge=3, le=600)]
PageNo = Annotated[int, Query(ge=1, le=1000)]
OFFLINE = _N("Network down: showing the data of {time}")
PAGE_OF = _N("Page {page} of {pages}")


def board_language(request: Request, lang: str | None) -> str:
    """The board's language: ``?lang=``, then the site's remembered choice, else Chinese."""
    return i18n.pick_language(lang, request.cookies.get("lang"), None)


def shown_result(judgement: str, case_state: str | None, lang: str) -> str:
    """A result in the consumer page's words: the positive's case state when it has one, else the judgement."""
    if case_state:
        return terms.case_state_name(case_state, lang)
    return label(judgement, lang)


def _worded(found: MarketBoard) -> MarketBoard:
    for r in found.results:
        r.result_zh = shown_result(r.judgement, r.case_state, "zh")
        r.result_en = shown_result(r.judgement, r.case_state, "en")
    return found


def _query(**params: Any) -> str:
    kept = {k: v for k, v in params.items() if v is not None}
    return "?" + urlencode(kept) if kept else ""


def _cache_seconds(refresh: int) -> int:
    """How long a copy may be reused: half the refresh interval, at most 30 s (many displays, one proxy)."""
    return max(1, min(30, refresh // 2))


def _answer(request: Request, name: str, lang: str, status: int, max_age: int, **context: Any) -> HTMLResponse:
    """A board template in `lang`, cacheable by anyone for `max_age` seconds, without cookies."""
    response = templates.TemplateResponse(request, name, {"lang": lang, **context}, status_code=status)
    response.headers["Cache-Control"] = f"public, max-age={max_age}"
    return response


def _context(found: MarketBoard, lang: str, page: int, refresh: int, rotate: int) -> dict[str, Any]:
    zone = clock.zone(found.time_zone)
    generated = found.generated_at if found.generated_at.tzinfo else found.generated_at.replace(tzinfo=UTC)
    offset = generated.astimezone(zone).utcoffset()
    pages = max(1, -(-len(found.results) // FALLBACK_ROWS))
    page = min(page, pages)
    base = f"/board/{quote(found.point_code, safe='')}"
    same = {"district": found.district_code, "days": found.days if found.days != market_board.DEFAULT_DAYS else None}
    looks = {"refresh": refresh, "rotate": rotate, "lang": lang if lang != DEFAULT_LANGUAGE else None}
    return {
        "board": found,
        "at": lambda value, fmt="%H:%M": local_time(value, fmt, zone),
        "page": page,
        "pages": pages,
        "shown_rows": range((page - 1) * FALLBACK_ROWS, page * FALLBACK_ROWS),
        "refresh": refresh,
        "rotate": rotate,
        "next_url": base + _query(**same, **looks, page=page % pages + 1 if pages > 1 else None),
        "panel_url": base + "/panel" + _query(**same, lang=looks["lang"]),
        "json_url": base + ".json" + _query(**same),
        "storage_key": f"lims-board:{found.district_code}:{found.point_code}:{found.days}:{lang}",
        "generated_ms": int(generated.timestamp() * 1000),
        "offset_minutes": int(offset.total_seconds() // 60) if offset is not None else 0,
        "offline_text": gettext(OFFLINE, lang),
        "page_of_text": gettext(PAGE_OF, lang),
        "notice": gettext(NOTICE, lang),
        "hotline": leads.HOTLINE,
        "result_text": lambda r: r.result_zh if lang == "zh" else r.result_en,
    }


def _no_board(request: Request, lang: str, exc: NotFound) -> HTMLResponse:
    """The neutral page for an address that names no board (malformed, unknown, ambiguous)."""
    return _answer(request, "market_board_missing.html", lang, 404, 60, reason=exc.text(lang))


@router.get("/board/sw.js", include_in_schema=False)
def service_worker() -> Response:
    """The boards' service worker: keeps the last copy of each board page for a reload without network."""
    return Response(SERVICE_WORKER, media_type="text/javascript; charset=utf-8", headers={"Cache-Control": "no-cache"})


@router.get("/board/{point}.json")
def board_json(
    session: SessionDep, point: str, district: DistrictCode = None, days: Days = market_board.DEFAULT_DAYS
) -> Response:
    """The board's data as JSON: published results of the last days, disposals, warnings in force."""
    try:
        found = _worded(market_board.board(session, point, district, days))
    except NotFound as exc:
        body = {"detail": exc.reason, "code": exc.code, "params": exc.json_params()}
        return JSONResponse(body, status_code=404, headers={"Cache-Control": "public, max-age=60"})
    return Response(
        found.model_dump_json().encode(),
        media_type="application/json",
        headers={"Cache-Control": f"public, max-age={_cache_seconds(60)}"},
    )


@router.get("/board/{point}/panel", response_class=HTMLResponse)
def board_panel(
    request: Request,
    session: SessionDep,
    point: str,
    district: DistrictCode = None,
    days: Days = market_board.DEFAULT_DAYS,
    lang: Lang = None,
    refresh: Refresh = 60,
) -> HTMLResponse:
    """The board's panel alone, which the page's script fetches to refresh itself."""
    shown = board_language(request, lang)
    try:
        found = _worded(market_board.board(session, point, district, days))
    except NotFound as exc:
        return _no_board(request, shown, exc)
    context = _context(found, shown, 1, refresh, 12)
    return _answer(request, "_market_board_panel.html", shown, 200, _cache_seconds(refresh), **context)


@router.get("/board/{point}", response_class=HTMLResponse)
def board_page(
    request: Request,
    session: SessionDep,
    point: str,
    district: DistrictCode = None,
    days: Days = market_board.DEFAULT_DAYS,
    lang: Lang = None,
    refresh: Refresh = 60,
    rotate: Rotate = 12,
    page: PageNo = 1,
) -> HTMLResponse:
    """The full-screen board of a point, for a display at the market entrance (public, no sign-in)."""
    shown = board_language(request, lang)
    try:
        found = _worded(market_board.board(session, point, district, days))
    except NotFound as exc:
        return _no_board(request, shown, exc)
    context = _context(found, shown, page, refresh, rotate)
    return _answer(request, "market_board.html", shown, 200, _cache_seconds(refresh), **context)


def board_path(point_code: str, district_code: str) -> str:
    """The address of a point's board, for the staff pages that link to it."""
    return f"/board/{quote(point_code, safe='')}?district={quote(district_code, safe='')}"


def board_paths(session: Session, district_id: int | None) -> Callable[[str], str]:
    """The addresses of the boards of a district's points, by point code (for the staff pages' point lists)."""
    district = session.get(District, district_id) if district_id else None
    code = district.code if district is not None else ""
    return lambda point_code: board_path(point_code, code)
