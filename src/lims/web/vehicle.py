"""The detection vehicle's console: today's tasks, sample registration, correction and labels, live results, held
readings (assigned to a sample or discarded with a reason), kept live over server-sent events, and colloidal-gold
cards photographed with the tester's phone, judged and shown with the lines measured on the photo."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from markupsafe import Markup
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from barcodes import labels
from lims.api.deps import LabelId, RowId, SessionDep
from lims.api.limits import read_bounded
from lims.db import get_engine
from lims.i18n import localized
from lims.models.common import Role
from lims.models.plans import TaskPublic
from lims.models.results import ResultPublic
from lims.models.samples import SampleCorrection, SampleCreate, SampleData, SamplePublic
from lims.services.access import districts
from lims.services.core import clock, shared
from lims.services.core.audit import Actor
from lims.services.core.errors import ServiceError
from lims.services.lab import stock
from lims.services.reference import reference_data
from lims.services.results import card_photos, evidence, holding, records
from lims.services.samples import plans, sample_labels, sampling
from lims.web.common import (
    CsrfChecked,
    local_time,
    number,
    page_router,
    redirect,
    render,
    role_page,
    said,
    validation_reason,
    viewer_zone,
)
from lims.web.i18n import label as text_of
from lims.web.i18n import language

router = page_router()
Tester = Annotated[Actor, Depends(role_page(Role.TESTER))]
DEFAULT_STREAM_SECONDS = 25


def plan_tasks(session: Session, actor: Actor, day: date) -> list[TaskPublic]:
    """The day sheet from the sampling plan: urgent tests, planned visits in route order, carried-over visits."""
    return plans.day_sheet(session, actor, day)


SAMPLE_FIELDS = ("product_name", "category_code", "gtin", "brand", "batch", "vendor", "stall")


def _page(request: Request, session: Session, actor: Actor, status: int = 200, **context: Any) -> HTMLResponse:
    day = plans.today(session, actor)  # the district's local date, as label ids and sample lists count days
    todays = sampling.list_for(session, actor, day=day.isoformat(), limit=500)
    views = [sampling.public(session, s) for s in todays]
    per_point: dict[str, list[Any]] = {}
    for v in views:
        per_point.setdefault(v.point_code, []).append(v)
    found = records.search(session, actor, date_from=day.isoformat(), limit=200)
    live = records.public_views(session, found)
    registered = request.query_params.get("registered", "")
    registered = registered if samples_label_ok(registered) else ""
    tasks = plan_tasks(session, actor, day)
    form = context.pop("form", None)
    if form is None:  # a task chosen from the day sheet, or the point (and task) where the tester last sampled
        chosen = request.query_params.get("task", "")
        task = next((x for x in tasks if f"T{x.id}" == chosen), None)
        just = next((v for v in views if v.label_id == registered), None)
        if task is not None:
            form = {"task_ref": chosen, "point_code": task.point_code, "category_code": next(iter(task.batches), "")}
        elif just is not None:  # never the last food category: each sample's category is chosen for it
            form = {"point_code": just.point_code, "task_ref": just.task_ref}
        elif views:
            form = {"point_code": views[0].point_code}
        else:
            form = {}
    correcting = context.pop("correcting", None)
    if correcting is None:
        wanted = request.query_params.get("correct", "").strip().upper()
        if samples_label_ok(wanted):
            correcting = _correctable(session, actor, wanted)
    correction_form = context.pop("correction_form", None)
    if correcting is not None and correction_form is None:
        correction_form = {name: getattr(correcting, name) or "" for name in SAMPLE_FIELDS}
    held = holding.pending_views(session, actor)
    shown = context.pop("card_shown", None)
    if shown is None:
        shown = _cards_shown(session, actor, request.query_params.get("cards", ""))
    return render(
        request,
        "vehicle.html",
        status_code=status,
        day=day,
        tasks=tasks,
        item_names=_item_names(session),
        category_names={c.code: (c.name_zh, c.name_en) for c in reference_data.categories(session)},
        samples=views,
        per_point=per_point,
        live=live,
        after=max((r.id for r in live), default=0),
        positives=sum(1 for r in live if r.judgement == "positive"),
        held=held,
        held_positives=sum(1 for h in held if h.suspected_positive),
        points=districts.points(session, actor.district_id),
        categories=reference_data.categories(session),
        registered=registered,
        form=form,
        correcting=correcting,
        correction_form=correction_form or {},
        card_form=context.pop("card_form", None) or {"label_id": registered or _last_card_sample(shown)},
        card_items=card_photos.items(session),
        card_lots=[lot for lot in stock.kit_lots(session, actor) if lot.item_code in _card_item_codes(session)],
        card_shown=shown,
        **context,
    )


def _last_card_sample(shown: CardsShown | None) -> str:
    """The sample of the card just photographed: the next card photographed is most often of the same sample."""
    if shown is None:
        return ""
    if shown.results:
        return shown.results[0].sample_label_id
    return next((h.held.sample_label_id or "" for h in shown.held), "")


def _card_item_codes(session: Session) -> set[str]:
    return {item.code for item in card_photos.items(session)}


CARDS_SHOWN = re.compile(r"[rh][0-9]{1,10}(?:\.[rh][0-9]{1,10}){0,7}")


@dataclass(frozen=True)
class CardsShown:
    """The cards of the photo just uploaded: their results (drawn on the photo) and readings held with the reason."""

    results: list[ResultPublic]
    overlays: list[evidence.Overlay]
    held: list[holding.HeldView]


def _cards_shown(session: Session, actor: Actor, wanted: str) -> CardsShown | None:
    """The results (``r12``) and held readings (``h4``) named in the query string after an upload, those of the
    tester's district only."""
    if not CARDS_SHOWN.fullmatch(wanted):
        return None
    ids = [(part[0], int(part[1:])) for part in wanted.split(".")]
    found = []
    for kind, row_id in ids:
        if kind == "r":
            try:
                found.append(records.get_for(session, actor, row_id))
            except ServiceError:
                continue
    views = records.public_views(session, found)
    held_ids = {row_id for kind, row_id in ids if kind == "h"}
    held = [h for h in holding.pending_views(session, actor) if h.held.id in held_ids]
    return CardsShown(views, evidence.overlays(views), held)


def _item_names(session: Session) -> dict[str, tuple[str, str]]:
    return {i.code: (i.name_zh, i.name_en) for i in reference_data.items(session)}


def _correctable(session: Session, actor: Actor, label_id: str) -> SamplePublic | None:
    """The district's sample `label_id` as the correction form shows it (None when there is no such sample)."""
    try:
        return sampling.public(session, sampling.get_for(session, actor, label_id))
    except ServiceError:
        return None


def samples_label_ok(label: str) -> bool:
    """Whether a label id from the query string is shaped like one (it is only echoed back as a link)."""
    return len(label) == 12 and label.isalnum() and label.isascii()


@router.get("/vehicle", response_class=HTMLResponse)
def console(request: Request, session: SessionDep, actor: Tester) -> HTMLResponse:
    """Today's tasks and samples, the registration form, live results and held readings."""
    return _page(request, session, actor)


@router.post("/vehicle/samples", response_class=HTMLResponse, dependencies=[CsrfChecked])
def register(
    request: Request,
    session: SessionDep,
    actor: Tester,
    point_code: Annotated[str, Form(max_length=16)] = "",
    product_name: Annotated[str, Form(max_length=200)] = "",
    category_code: Annotated[str, Form(max_length=32)] = "",
    gtin: Annotated[str, Form(max_length=64)] = "",
    brand: Annotated[str, Form(max_length=100)] = "",
    batch: Annotated[str, Form(max_length=64)] = "",
    vendor: Annotated[str, Form(max_length=200)] = "",
    stall: Annotated[str, Form(max_length=64)] = "",
    task_ref: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Register a sample and come back with its label id and a link to print the label.

    A refused form comes back with the reason next to it and everything typed kept (the form's
    address ends in #register, so the browser shows the form, not the top of the page)."""
    form = {
        "point_code": point_code,
        "product_name": product_name,
        "category_code": category_code,
        "gtin": gtin,
        "brand": brand,
        "batch": batch,
        "vendor": vendor,
        "stall": stall,
        "task_ref": task_ref,
    }
    try:
        data = SampleCreate.model_validate(
            {
                **{k: v.strip() for k, v in form.items()},
                "gtin": _gtin_digits(gtin) or None,
                "task_ref": task_ref.strip() or None,
            }
        )
        sample = sampling.register(session, actor, data)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        return _page(request, session, actor, exc.status_code, register_error=said(request, exc), form=form)
    except ValidationError as exc:
        return _page(request, session, actor, 422, register_error=validation_reason(exc), form=form)
    return redirect(f"/vehicle?registered={sample.label_id}#registered")


@router.post("/vehicle/samples/{label_id}/correction", response_class=HTMLResponse, dependencies=[CsrfChecked])
def correct(
    request: Request,
    session: SessionDep,
    actor: Tester,
    label_id: LabelId,
    product_name: Annotated[str, Form(max_length=200)] = "",
    category_code: Annotated[str, Form(max_length=32)] = "",
    gtin: Annotated[str, Form(max_length=64)] = "",
    brand: Annotated[str, Form(max_length=100)] = "",
    batch: Annotated[str, Form(max_length=64)] = "",
    vendor: Annotated[str, Form(max_length=200)] = "",
    stall: Annotated[str, Form(max_length=64)] = "",
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Correct a registered sample as a new version with a reason (awaiting review once a result is published)."""
    typed = {
        "product_name": product_name,
        "category_code": category_code,
        "gtin": gtin,
        "brand": brand,
        "batch": batch,
        "vendor": vendor,
        "stall": stall,
    }
    sample = sampling.get_for(session, actor, label_id)
    shown = sampling.public(session, sample)
    kept = SampleData.model_validate(sample, from_attributes=True).model_dump()  # the fields the form does not show
    try:
        data = SampleCorrection.model_validate(
            {
                **kept,
                **{k: v.strip() for k, v in typed.items()},
                "gtin": _gtin_digits(gtin) or None,
                "reason": " ".join(reason.split()),
            }
        )
        corrected = sampling.correct(session, actor, sample.label_id, data)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        error = said(request, exc)
        return _page(
            request,
            session,
            actor,
            exc.status_code,
            correct_error=error,
            correcting=shown,
            correction_form={**typed, "reason": reason},
        )
    except ValidationError as exc:
        return _page(
            request,
            session,
            actor,
            422,
            correct_error=validation_reason(exc),
            correcting=shown,
            correction_form={**typed, "reason": reason},
        )
    waits = "1" if corrected.pending_version is not None else ""
    return redirect(f"/vehicle?corrected={corrected.label_id}&review={waits}#samples")


def _gtin_digits(text: str) -> str:
    """The GTIN in a typed or scanned code (digits, a GS1 element string or Digital Link), else the text."""
    text = text.strip()
    if not text or text.isdigit():
        return text
    from barcodes import gs1

    try:
        parsed = gs1.parse_code(text)
    except gs1.CodeError:
        return text
    return parsed.gtin.short if parsed.gtin else text


def _label(session: Session, actor: Actor, label_id: str) -> tuple[SamplePublic, labels.LabelData]:
    found = sampling.get_for(session, actor, label_id)
    return sampling.public(session, found), sample_labels.label_data(session, found)


LABEL_MEDIA = {
    labels.LabelFormat.PNG: "image/png",
    labels.LabelFormat.SVG: "image/svg+xml",
    labels.LabelFormat.PDF: "application/pdf",
    labels.LabelFormat.ZPL: "text/plain; charset=utf-8",
}


@router.get("/vehicle/label/{label_id}.{fmt}")
def label_file(session: SessionDep, actor: Tester, label_id: LabelId, fmt: labels.LabelFormat) -> Response:
    """The label as a file for a label printer: PNG, SVG, an A4 PDF sheet, or ZPL for Zebra printers."""
    sample, data = _label(session, actor, label_id)
    return Response(
        labels.render_label(data, fmt),
        media_type=LABEL_MEDIA[fmt],
        headers={"Content-Disposition": f'inline; filename="{sample.label_id}.{fmt}"'},
    )


@router.get("/vehicle/label/{label_id}", response_class=HTMLResponse)
def label(request: Request, session: SessionDep, actor: Tester, label_id: LabelId) -> HTMLResponse:
    """A printable sample label: Code 128 of the label id and a QR code carrying the signed sample link."""
    sample, data = _label(session, actor, label_id)
    svg = labels.render_svg(data).split("?>", 1)[-1].strip()  # inline: without the XML declaration
    return render(request, "label.html", sample=sample, url=data.url, label_svg=Markup(svg))


@router.post("/vehicle/tasks/{task_id}/arrived", response_class=HTMLResponse, dependencies=[CsrfChecked])
def arrived(request: Request, session: SessionDep, actor: Tester, task_id: RowId) -> Response:
    """Record that the vehicle reached the point of an urgent complaint test (the 20/40-minute clock stops)."""
    try:
        plans.mark_arrived(session, actor, task_id)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        return _page(request, session, actor, exc.status_code, task_error=said(request, exc), error_task=task_id)
    return redirect("/vehicle#tasks")


@router.post("/vehicle/held/{held_id}/assign", response_class=HTMLResponse, dependencies=[CsrfChecked])
def assign_held(
    request: Request,
    session: SessionDep,
    actor: Tester,
    held_id: RowId,
    label_id: Annotated[str, Form(max_length=12)] = "",
) -> Response:
    """Assign a held reading to a sample; it is judged and joins the review queue."""
    try:
        holding.assign(session, actor, held_id, label_id)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        return _page(request, session, actor, exc.status_code, held_error=said(request, exc), error_held=held_id)
    return redirect("/vehicle?assigned=1#held")


@router.post("/vehicle/held/{held_id}/discard", response_class=HTMLResponse, dependencies=[CsrfChecked])
def discard_held(
    request: Request,
    session: SessionDep,
    actor: Tester,
    held_id: RowId,
    reason: Annotated[str, Form(max_length=500)] = "",
) -> Response:
    """Discard a held reading with a reason (audited); the reading stays stored but leaves the queue."""
    try:
        holding.discard(session, actor, held_id, reason)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        return _page(
            request,
            session,
            actor,
            exc.status_code,
            held_error=said(request, exc),
            error_held=held_id,
            discard_reason=reason,
        )
    return redirect("/vehicle?discarded=1#held")


@router.post("/vehicle/card-photo", response_class=HTMLResponse, dependencies=[CsrfChecked])
async def card_photo(
    request: Request,
    session: SessionDep,
    actor: Tester,
    photo: Annotated[UploadFile, File()],
    label_id: Annotated[str, Form(max_length=12)] = "",
    item_code: Annotated[str, Form(max_length=16)] = "",
    kit_lot: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """Measure a photographed card as the card-photo instrument does, store its result with the photo, and show it
    with the lines drawn where they were found; a photo that cannot be measured comes back with the reason."""
    upload = await read_bounded(photo, evidence.MAX_EVIDENCE_BYTES)
    choice = card_photos.Choice(label_id, item_code, kit_lot)
    return await run_in_threadpool(_store_card_photo, request, session, actor, upload.data, choice)


def _store_card_photo(
    request: Request, session: Session, actor: Actor, data: bytes, choice: card_photos.Choice
) -> Response:
    form = {"label_id": choice.label_id, "item_code": choice.item_code, "kit_lot": choice.kit_lot}
    try:
        found = card_photos.readings(session, actor, data, choice)
        stored = card_photos.store(session, actor, found)
        session.commit()
    except ServiceError as exc:
        session.rollback()
        page = _page(request, session, actor, exc.status_code, card_error=said(request, exc), card_form=form)
        if exc.retry_after:
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    shown = ".".join(f"r{s.result_id}" if s.result_id else f"h{s.held_id}" for s in stored)
    return redirect(f"/vehicle?cards={shown}#card-photo")


@router.get("/vehicle/held", response_class=HTMLResponse)
def held_list(request: Request, session: SessionDep, actor: Tester) -> HTMLResponse:
    """The held readings as a fragment of the console, fetched by the page when the live stream says they changed."""
    held = holding.pending_views(session, actor)
    return render(
        request,
        "_vehicle_held.html",
        held=held,
        held_positives=sum(1 for h in held if h.suspected_positive),
        item_names=_item_names(session),
    )


def _event(view: ResultPublic, lang: str, zone: ZoneInfo) -> str:
    data = {
        "id": view.id,
        "label": view.sample_label_id,
        "item": localized(lang, view.item_name_zh, view.item_name_en),
        "point": view.point_code,
        "judgement": view.judgement,
        "judgement_text": text_of(view.judgement, lang),
        "value": None if view.value is None else f"{view.reported_value or number(view.value)} {view.unit}".strip(),
        "status_text": text_of(f"status_{view.status}", lang),
        "time": local_time(view.tested_at, "%H:%M", zone),
    }
    return f"id: {view.id}\nevent: result\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _engine(request: Request) -> Engine:
    return getattr(request.app.state, "engine", None) or get_engine()


@router.get("/vehicle/events")
async def events(
    request: Request,
    actor: Tester,
    after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
    seconds: Annotated[int, Query(ge=1, le=120)] = DEFAULT_STREAM_SECONDS,
) -> StreamingResponse:
    """Server-sent events for `seconds` (the browser then reconnects): each new result of the district today, and
    the held readings' ids and counts whenever they change."""
    last_header = request.headers.get("last-event-id", "")
    last = int(last_header) if last_header.isdigit() else after
    lang = language(request)
    engine = _engine(request)
    zone = viewer_zone(request)

    def fetch(since: int) -> tuple[list[ResultPublic], dict[str, Any]]:
        with Session(engine, expire_on_commit=False) as session:
            today = clock.local_today(zone)
            found = records.search(session, actor, date_from=today.isoformat(), limit=500)
            fresh = [r for r in found if (r.id or 0) > since]
            held = holding.pending_views(session, actor)
            queue = {
                "ids": [int(h.held.id or 0) for h in held],
                "count": len(held),
                "positives": sum(1 for h in held if h.suspected_positive),
            }
            return sorted(records.public_views(session, fresh), key=lambda v: v.id), queue

    async def stream() -> AsyncIterator[str]:
        nonlocal last
        yield "retry: 1000\n\n"
        deadline = time.monotonic() + seconds
        queue_sent: dict[str, Any] | None = None
        # Woken when any worker or process stores a result of the district or a held reading changes; the stream
        # also looks on its own now and then (see lims.services.core.shared).
        with shared.subscribe(engine, actor.district_id) as news:
            while (left := deadline - time.monotonic()) > 0:
                if await request.is_disconnected():
                    return
                news.clear()
                views, queue = await run_in_threadpool(fetch, last)
                for view in views:
                    last = max(last, view.id)
                    yield _event(view, lang, zone)
                if queue != queue_sent:  # the held readings changed (and once at the start): the page fetches them
                    queue_sent = queue
                    yield f"event: held\ndata: {json.dumps(queue)}\n\n"
                await news.wait(min(news.poll_seconds, left))
        yield ": stream ends; the browser reconnects with Last-Event-ID\n\n"

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )
