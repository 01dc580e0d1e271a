"""What a result was measured from: a card photo kept once by its SHA-256 in the file store, named in the result's
raw data (and so in its audit event), and where the card's window and its C and T lines were found on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from barcodes.imageio import MAX_PIXELS, MAX_SIDE, ImageError, header_size
from instrument_drivers.card_photo import codec
from lims.i18n import _N
from lims.models import TestResult
from lims.models.results import ResultPublic
from lims.services.cases import files
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, Invalid, NotFound, TooLarge
from lims.services.results import records

MAX_EVIDENCE_BYTES = codec.MAX_PHOTO_BYTES
PHOTO_TYPES = {"jpeg": "image/jpeg", "png": "image/png"}
KEY = "evidence"  # where a result's raw data name the photo


def check(data: bytes) -> tuple[str, int, int]:
    """(content type, width, height) of a card photo, or TooLarge / Invalid: a JPEG or PNG of at most 8 MB within
    the image bounds every photo is held to (`barcodes.imageio`), read from its header alone."""
    if len(data) > MAX_EVIDENCE_BYTES:
        raise TooLarge(
            "evidence.photo_too_large",
            _N("the photo is larger than {megabytes} MB"),
            megabytes=MAX_EVIDENCE_BYTES // (1024 * 1024),
        )
    try:
        kind, width, height = header_size(data)
    except ImageError:
        raise Invalid("evidence.photo_not_image", _N("the photo is not a JPEG or PNG image")) from None
    if kind not in PHOTO_TYPES:
        raise Invalid("evidence.photo_not_image", _N("the photo is not a JPEG or PNG image"))
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        raise TooLarge("evidence.photo_too_many_pixels", _N("the photo has too many pixels"))
    return PHOTO_TYPES[kind], width, height


def keep(session: Session, data: bytes) -> dict[str, Any]:
    """Store a photo once by its SHA-256; the reference a result's raw data keep under `KEY`."""
    content_type, width, height = check(data)
    digest = files.keep(session, data)
    return {"sha256": digest, "content_type": content_type, "size": len(data), "width": width, "height": height}


def stored(session: Session, digest: object) -> dict[str, Any] | None:
    """The reference of a photo kept before (a held reading's, by the SHA-256 its raw data name), else None."""
    if not isinstance(digest, str) or len(digest) != 64:
        return None
    data = files.content(session, digest)
    return None if data is None else keep(session, data)


def reference(raw: dict[str, Any]) -> dict[str, Any] | None:
    """The photo reference in a result's raw data, or None."""
    found = raw.get(KEY)
    return found if isinstance(found, dict) and isinstance(found.get("sha256"), str) else None


def photo(session: Session, actor: Actor, result_id: int) -> tuple[str, bytes]:
    """(content type, bytes) of the photo result `result_id` was measured from, for those who may see the result,
    checked against its SHA-256."""
    result = records.get_for(session, actor, result_id)
    ref = reference(result.raw)
    if ref is None:
        raise NotFound("evidence.no_photo", _N("result {result_id} was not measured from a photo"), result_id=result_id)
    data = files.content(session, ref["sha256"])
    if data is None:
        raise Conflict("files.content_changed", _N("the stored file no longer matches its SHA-256"))
    return str(ref.get("content_type", "image/jpeg")), data


@dataclass(frozen=True)
class Mark:
    """One measured card on the photo: its window's outline and its C and T lines, in photo pixels."""

    card: int
    window: str  # SVG polygon points
    c_line: tuple[float, float, float, float]
    t_line: tuple[float, float, float, float]
    c: float | None
    t: float | None
    tc: float | None
    result_id: int | None = None
    judgement: str = ""


@dataclass(frozen=True)
class Overlay:
    """A photo with what was measured on it: drawn as SVG over the photo (`photo_result` serves its bytes)."""

    photo_result: int
    width: int
    height: int
    marks: list[Mark]

    @property
    def view(self) -> str:
        """The SVG viewBox: the part of the photo around the measured windows (the cards are often small in it)."""
        xs = [float(p.split(",")[0]) for m in self.marks for p in m.window.split()]
        ys = [float(p.split(",")[1]) for m in self.marks for p in m.window.split()]
        if not xs:
            return f"0 0 {self.width} {self.height}"
        w, h = max(xs) - min(xs), max(ys) - min(ys)
        x0, y0 = max(0.0, min(xs) - 1.5 * w), max(0.0, min(ys) - 1.2 * h)
        x1, y1 = min(float(self.width), max(xs) + 1.5 * w), min(float(self.height), max(ys) + 1.2 * h)
        return f"{x0:.0f} {y0:.0f} {x1 - x0:.0f} {y1 - y0:.0f}"

    @property
    def stroke(self) -> float:
        """A line width that reads at the size the windows are shown (about 1.5 % of the shown part's height)."""
        height = float(self.view.split()[3])
        return round(max(0.5, height / 120), 1)


def _line(points: object) -> tuple[float, float, float, float] | None:
    if not (isinstance(points, list) and len(points) == 2 and all(isinstance(p, list) and len(p) == 2 for p in points)):
        return None
    (x1, y1), (x2, y2) = points
    return float(x1), float(y1), float(x2), float(y2)


def mark(result: ResultPublic | TestResult) -> Mark | None:
    """Where a card-photo result's card, window and lines were found, from its raw data; None for other results."""
    measured = result.raw.get("instrument")
    if reference(result.raw) is None or not isinstance(measured, dict):
        return None
    window, c_line, t_line = measured.get("window"), _line(measured.get("c_line")), _line(measured.get("t_line"))
    if not isinstance(window, list) or c_line is None or t_line is None:
        return None
    points = " ".join(f"{float(x):.1f},{float(y):.1f}" for x, y in window)
    return Mark(
        card=int(measured.get("card") or 1),
        window=points,
        c_line=c_line,
        t_line=t_line,
        c=measured.get("c"),
        t=measured.get("t"),
        tc=measured.get("tc"),
        result_id=result.id,
        judgement=str(result.judgement or ""),
    )


def overlays(results: list[ResultPublic]) -> list[Overlay]:
    """The photos among `results` with every card measured on each drawn over it, one overlay per photo."""
    by_photo: dict[str, tuple[ResultPublic, list[Mark]]] = {}
    for result in results:
        found = mark(result)
        ref = reference(result.raw)
        if found is None or ref is None:
            continue
        by_photo.setdefault(ref["sha256"], (result, []))[1].append(found)
    out = []
    for first, marks in by_photo.values():
        ref = reference(first.raw) or {}
        out.append(
            Overlay(
                photo_result=int(first.id or 0),
                width=int(ref.get("width") or 1),
                height=int(ref.get("height") or 1),
                marks=sorted(marks, key=lambda m: m.card),
            )
        )
    return out
