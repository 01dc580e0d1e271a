"""Decode an uploaded photo and trace every code on it: product codes, sample label ids, signed sample links."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sqlmodel import Session, SQLModel

from barcodes.decode import decode
from barcodes.imageio import ImageError
from lims.models.trace import TraceRecord
from lims.services import links, trace
from lims.services.errors import Invalid, ServiceError
from lims.settings import get_settings


class PayloadTooLarge(Invalid):
    """The upload is bigger than we accept."""

    status_code = 413


class ScannedCode(SQLModel):
    """One code found on the photo and what it traces to."""

    symbology: str
    text: str
    code: str
    status: int
    detail: str | None = None
    trace: TraceRecord | None = None


def _traceable(text: str) -> str:
    """The code to trace for a decoded text: a signed sample link becomes its (verified) label id."""
    parts = urlsplit(text)
    base = urlsplit(get_settings().public_base_url)
    if parts.scheme in ("http", "https") and parts.netloc == base.netloc and parts.path.startswith("/s/"):
        label_id = parts.path.removeprefix("/s/")
        links.verify(label_id, parse_qs(parts.query).get("t", [""])[0])
        return label_id
    return text


def scan(session: Session, image: bytes) -> list[ScannedCode]:
    """Every code on the photo with its trace record; a photo that is not an image gets a clear reason."""
    try:
        found = decode(image)
    except ImageError as exc:
        raise (PayloadTooLarge if exc.code == "too_large" else Invalid)(
            f"cannot read the photo: {exc.reason}"
        ) from None
    scanned = []
    for item in found:
        try:
            if item.gs1_error:
                raise Invalid(f"the code is marked GS1 but breaks GS1 syntax: {item.gs1_error}")
            code = _traceable(item.text)
            record, status, detail = trace.trace(session, code), 200, None
        except ServiceError as exc:
            code, record, status, detail = item.text, None, exc.status_code, exc.reason
        scanned.append(
            ScannedCode(symbology=item.symbology, text=item.text, code=code, status=status, detail=detail, trace=record)
        )
    return scanned
