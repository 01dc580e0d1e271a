"""Server-rendered pages: home, the consumer's scan and trace pages, signed sample links, public warnings."""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from markupsafe import Markup, escape

from barcodes import gs1
from lims.api.deps import ClientAddress, SessionDep
from lims.api.limits import read_bounded
from lims.i18n import _N, render_message
from lims.i18n import render as render_i18n
from lims.models.leads import MAX_CONTACT, MAX_WHAT, MAX_WHERE
from lims.services.cases import warnings
from lims.services.cases.files import MAX_PHOTO_BYTES
from lims.services.core.errors import Busy, NotFound, ServiceError, TooLarge
from lims.services.public import leads, scanning, trace
from lims.services.samples import links
from lims.services.samples.label_ids import looks_like_label_id
from lims.settings import get_settings
from lims.web import (
    admin,
    admin_sharing,
    admin_vehicles,
    feeds,
    market_board,
    notice,
    reports,
    review,
    signals,
    signin,
    station,
    vehicle,
)
from lims.web import leads as leads_pages
from lims.web.common import HEADLINES, CsrfChecked, Viewer, error_page, local_time, page_router, render, said
from lims.web.i18n import gettext, language

router = page_router()
PHOTO_TOO_LARGE = _N("The photo is too large (15 MB and 50 megapixels at most)")
BAD_PHOTO_HINT = _N(
    "Retake it with the barcode filling the frame, even light and "
    "no glare or blur, or type the digits under the barcode."
)
LINK_HEADLINES = {
    "tampered": _N("This QR link is not valid or has been altered"),
    "wrong_sample": _N("This link belongs to another sample and cannot show this one"),
    "expired": _N("This link has expired; scan the sample label again"),
}


@router.get("/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, me: Viewer) -> HTMLResponse:
    """The home page with a way in for each kind of user."""
    return render(request, "home.html", warnings=warnings.active(session)[:3], code="")


def code_target(text: str) -> str:
    """Where a scanned or typed code leads: a signed sample link, a sample, or a product's page."""
    text = text.strip()
    if "://" in text:
        url = urlsplit(text)
        if url.path.startswith("/s/"):
            return url.path + (f"?{url.query}" if url.query else "")
    if looks_like_label_id(text.upper()):
        return f"/trace/{text.upper()}"
    try:
        parsed = gs1.parse_code(text)
    except gs1.CodeError:
        parsed = None
    if parsed is not None and parsed.gtin is not None:
        g = parsed.gtin
        return f"/trace/{g.short if len(g.short) < 14 else (g.gtin13 or g.gtin14)}"
    return "/trace/" + quote(text, safe="")


def _issuer(record: Any) -> Any:
    """The GS1 issuer of the record's product code: an Issuer, False when unknown, None without a code."""
    if not record or not record.gtin:
        return None
    return gs1.issuer_of(record.gtin) or False


def _trace_page(request: Request, status_code: int = 200, **context: Any) -> HTMLResponse:
    record = context.get("record")
    context.setdefault("code", "")
    if record is not None:
        context.setdefault("verdict", trace.verdict(record))
        context.setdefault("lead_code", record.sample.label_id if record.sample else record.gtin or "")
    return render(
        request,
        "trace.html",
        status_code=status_code,
        issuer=_issuer(record),
        shown_value=trace.shown_value,
        positives_phrase=lambda v: positives_phrase(v, language(request)),
        marked=marked,
        hotline=leads.HOTLINE,
        hotline_url=leads.HOTLINE_URL,
        lead_limits=LEAD_BOUNDS,
        **context,
    )


POSITIVES = _N("{count} suspected positive(s) ({found})")
POSITIVE_ITEM = _N("{item}, {date}")
POSITIVE_ITEM_STATE = _N("{item}, {date}: {state}")
POSITIVES_JOIN = _N("; ")


def positives_phrase(verdict: trace.Verdict, lang: str) -> str:
    """ "1 suspected positive (Aflatoxin B1, 12-02)" in `lang`: the verdict's positives, newest first, three at most."""
    found = [
        render_i18n(
            POSITIVE_ITEM_STATE if r.case_state else POSITIVE_ITEM,
            lang,
            {
                "item": r.item_name_zh if lang == "zh" else r.item_name_en or r.item_name_zh,
                "date": local_time(r.tested_at, "%m-%d"),
                "state": r.case_state_zh if lang == "zh" else r.case_state_en,
            },
        )
        for r in verdict.positives[:3]
    ]
    more = " …" if len(verdict.positives) > 3 else ""
    return render_i18n(
        POSITIVES, lang, {"count": len(verdict.positives), "found": gettext(POSITIVES_JOIN, lang).join(found) + more}
    )


def marked(text: str, data: list[str] | None) -> Markup:
    """`text` escaped, with each of the `data` strings in it marked as data (``translate="no"``): a mark or a
    company quoted in a finding is the same in either language."""
    names = sorted({d for d in data or [] if d}, key=len, reverse=True)
    if not names:
        return escape(text)
    pattern = re.compile("|".join(re.escape(n) for n in names))
    out, at = [], 0
    for match in pattern.finditer(text):
        out.append(escape(text[at : match.start()]))
        out.append(Markup('<span translate="no">{}</span>').format(match.group(0)))
        at = match.end()
    out.append(escape(text[at:]))
    return Markup("").join(out)


LEAD_BOUNDS = {
    "what": MAX_WHAT,
    "where": MAX_WHERE,
    "contact": MAX_CONTACT,
    "photo_mb": MAX_PHOTO_BYTES // (1024 * 1024),
}


@router.get("/trace", response_class=HTMLResponse)
def trace_form(request: Request, me: Viewer, code: str = "") -> Response:
    """The consumer's scan page; a typed code goes to its page."""
    if code.strip():
        return RedirectResponse(code_target(code), status_code=303)
    return _trace_page(request, record=None)


@router.post("/trace/photo", response_class=HTMLResponse)
async def trace_photo(request: Request, me: Viewer, photo: Annotated[UploadFile, File()]) -> Response:
    """Read the barcode in an uploaded photo and go to that code's page; a clear message when there is none.

    Public and read-only (it changes nothing), so it takes no CSRF token: consumers need no cookies.
    The photo is decoded in a worker thread, a bounded number at a time (see ``services.scanning``).
    """
    lang = language(request)
    try:
        found = await scanning.decode_upload(photo.read, scanning.PAGE_PHOTO_BYTES)
    except TooLarge as exc:
        return _trace_page(request, 413, record=None, headline=gettext(PHOTO_TOO_LARGE, lang), error=said(request, exc))
    except Busy as exc:
        busy = _trace_page(request, 503, record=None, headline=gettext(HEADLINES[503], lang), error=said(request, exc))
        busy.headers["Retry-After"] = str(exc.retry_after)
        return busy
    except ServiceError as exc:  # not an image, empty, damaged, truncated
        headline = gettext(_N("The uploaded file is not a readable image"), lang)
        hint = gettext(BAD_PHOTO_HINT, lang)
        return _trace_page(request, 422, record=None, headline=headline, hint=hint, error=said(request, exc))
    if not found:
        return _trace_page(
            request,
            422,
            record=None,
            headline=gettext(_N("No barcode could be read in the photo"), lang),
            hint=gettext(BAD_PHOTO_HINT, lang),
            error=gettext(_N("no barcode found"), lang),
        )
    usable = [d for d in found if not d.gs1_problem]
    if not usable:  # a GS1 symbol read correctly whose content breaks GS1 rules
        problem = found[0].gs1_problem
        reason = render_message(problem, lang) if problem else ""
        return _trace_page(
            request, 422, record=None, code=found[0].text, headline=gettext(HEADLINES[422], lang), error=reason
        )
    texts_found = [d.text for d in usable]
    best = sorted(texts_found, key=lambda s: 0 if "/s/" in s else 1 if looks_like_label_id(s.upper()) else 2)[0]
    return RedirectResponse(code_target(best), status_code=303)


@router.get("/trace/{code:path}", response_class=HTMLResponse)
def trace_page(request: Request, session: SessionDep, me: Viewer, code: str) -> HTMLResponse:
    """The consumer's page for a code: product or sample, published results, warnings."""
    try:
        record = trace.trace(session, code)
    except NotFound as exc:
        return _neutral_page(request, session, exc, code)
    except ServiceError as exc:
        return _trace_error(request, exc, code)
    return _trace_page(request, record=record, code=code, sent=request.query_params.get("sent") == "1")


def _neutral_context(session: SessionDep, exc: NotFound, code: str) -> dict[str, Any]:
    """A code that is right but has nothing published: a product nobody has tested here yet, or a sample whose
    results are not published yet (being tested or reviewed). A plain page, not an error: the code is fine."""
    details = exc.details or {}
    gtin = details.get("gtin")
    if isinstance(gtin, str):
        facts = trace.code_facts(session, gtin)
        return {
            "record": None,
            "code": code,
            "untested": facts,
            "error_findings": details.get("findings") or [],
            "lead_code": gtin,
        }
    label = str(exc.params.get("label_id") or code).upper()
    return {"record": None, "code": label, "pending": label, "lead_code": label}


def _neutral_page(request: Request, session: SessionDep, exc: NotFound, code: str, **extra: Any) -> HTMLResponse:
    sent = request.query_params.get("sent") == "1"
    return _trace_page(request, **{**_neutral_context(session, exc, code), "sent": sent, **extra})


@router.post("/trace/lead", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def send_lead(
    request: Request,
    session: SessionDep,
    me: Viewer,
    address: ClientAddress,
    code: Annotated[str, Form(max_length=trace.MAX_CODE_LENGTH)],
    what_happened: Annotated[str, Form(max_length=4 * MAX_WHAT)] = "",
    where_bought: Annotated[str, Form(max_length=4 * MAX_WHERE)] = "",
    contact: Annotated[str, Form(max_length=4 * MAX_CONTACT)] = "",
    kind: Annotated[str, Form(max_length=16)] = "report",
    photo: Annotated[UploadFile | None, File()] = None,
) -> Response:
    """A consumer's report or complaint about the product or sample of the page, queued for the district's station."""
    form = leads.LeadForm(code, what_happened, where_bought, contact, kind)
    upload = await read_bounded(photo, MAX_PHOTO_BYTES) if photo is not None and photo.filename else None
    try:
        leads.submit(session, lead_limiter(request), address, form, upload)
    except ServiceError as exc:
        session.rollback()
        return _lead_refused(request, session, exc, form)
    session.commit()
    return RedirectResponse(f"{code_target(code)}?sent=1#report", status_code=303)


def lead_limiter(request: Request) -> leads.LeadLimiter:
    """The app's limiter of consumer reports (made from the settings on first use)."""
    found = getattr(request.app.state, "lead_limiter", None)
    if found is None:
        found = request.app.state.lead_limiter = leads.LeadLimiter.from_settings(get_settings())
    return found


def _lead_refused(request: Request, session: SessionDep, exc: ServiceError, form: leads.LeadForm) -> HTMLResponse:
    """The page the form was on, with the reason next to the form and what was typed kept."""
    typed = {
        "what": form.what_happened[:MAX_WHAT],
        "where": form.where_bought[:MAX_WHERE],
        "contact": form.contact[:MAX_CONTACT],
        "kind": form.kind,
    }
    extra = {"lead_error": said(request, exc), "typed": typed}
    try:
        record = trace.trace(session, form.code)
    except NotFound as missing:
        page = _trace_page(request, exc.status_code, **{**_neutral_context(session, missing, form.code), **extra})
    except ServiceError:  # not a code a report can be about: the reason where the page shows errors
        headline = gettext(HEADLINES[exc.status_code if exc.status_code in HEADLINES else 422], language(request))
        page = _trace_page(
            request, exc.status_code, record=None, code=form.code[:64], headline=headline, error=extra["lead_error"]
        )
    else:
        page = _trace_page(request, exc.status_code, record=record, code=form.code, **extra)
    if exc.retry_after:
        page.headers["Retry-After"] = str(exc.retry_after)
    return page


def _trace_error(request: Request, exc: ServiceError, code: str = "", headline: str = "") -> HTMLResponse:
    """The consumer page with the service's reason (in Chinese when it gave one) and any findings about the code."""
    lang = language(request)
    details = getattr(exc, "details", None) or {}
    return _trace_page(
        request,
        exc.status_code,
        record=None,
        code=code,
        headline=headline or gettext(HEADLINES[404 if exc.status_code == 404 else 422], lang),
        error=said(request, exc),
        error_findings=details.get("findings") or [],
    )


@router.get("/s/{label_id}", response_class=HTMLResponse)
def signed_sample(request: Request, session: SessionDep, me: Viewer, label_id: str, t: str = "") -> HTMLResponse:
    """A sample's public page from the signed link on its label; tampered, foreign or expired links are refused."""
    lang = language(request)
    try:
        links.verify(label_id, t)
    except links.LinkError as exc:
        headline = gettext(LINK_HEADLINES.get(exc.kind, LINK_HEADLINES["tampered"]), lang)
        return _trace_page(request, exc.status_code, record=None, headline=headline, error=said(request, exc))
    try:
        record = trace.trace_sample(session, label_id.upper())
    except NotFound as exc:  # the signed label proves the sample exists: it is being tested or reviewed
        return _neutral_page(request, session, exc, label_id, verified=True)
    except ServiceError as exc:
        return _trace_error(request, exc)
    return _trace_page(
        request, record=record, code=label_id.upper(), verified=True, sent=request.query_params.get("sent") == "1"
    )


router.include_router(feeds.router)
router.include_router(signin.router)
router.include_router(review.router)
router.include_router(station.router)
router.include_router(vehicle.router)
router.include_router(notice.router)
router.include_router(reports.router)
router.include_router(leads_pages.router)
router.include_router(signals.router)
router.include_router(admin.router)
router.include_router(admin_sharing.router)
router.include_router(admin_vehicles.router)
router.include_router(market_board.router)


@router.get("/{path:path}", response_class=HTMLResponse)
def not_found(request: Request, me: Viewer, path: str) -> Response:
    """Any other address: a page that says so (API addresses keep their JSON answer)."""
    if path.startswith("api/"):
        return JSONResponse({"detail": "Not Found"}, status_code=404)
    reason = render_i18n(_N("there is no page at {path}"), language(request), {"path": f"/{path}"})
    return error_page(request, 404, reason)
