"""How big a request may be, per route: body bytes (enforced while reading) and the parts of a form."""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from fastapi import Request, Response, UploadFile
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException

from lims.i18n import _N
from lims.services.cases.files import MAX_PHOTO_BYTES, MAX_PHOTOS, MAX_REPORT_BYTES, Upload
from lims.services.core.errors import Invalid, TooLarge
from lims.services.public.scanning import API_PHOTO_BYTES, PAGE_PHOTO_BYTES
from lims.services.results.reviewing import MAX_BATCH

KIB = 1024
MIB = 1024 * KIB
FORM_OVERHEAD = 64 * KIB  # multipart boundaries and part headers around a photo


@dataclass(frozen=True)
class Limits:
    """The bounds of one kind of request."""

    body_bytes: int
    max_files: int
    max_fields: int
    max_part_size: int  # bytes of one non-file form field

    @property
    def body_text(self) -> str:
        """The body limit as people read it."""
        n = self.body_bytes
        return f"{n / MIB:.0f} MB" if n >= MIB else f"{n // KIB} KB"


# JSON bodies of the API are single records (a sample, a result's raw data, a warning).
API_JSON = Limits(body_bytes=1 * MIB, max_files=0, max_fields=32, max_part_size=16 * KIB)
# Page forms hold a few short fields; the longest is a warning's text (4000 characters in each language).
PAGE_FORM = Limits(body_bytes=256 * KIB, max_files=0, max_fields=32, max_part_size=16 * KIB)
API_PHOTO = Limits(body_bytes=API_PHOTO_BYTES + FORM_OVERHEAD, max_files=1, max_fields=4, max_part_size=16 * KIB)
PAGE_PHOTO = Limits(body_bytes=PAGE_PHOTO_BYTES + FORM_OVERHEAD, max_files=1, max_fields=4, max_part_size=16 * KIB)

# A case's lab report (one PDF and the verdict's fields) and its disposal photos. The body may exceed the files'
# own bounds by one file's worth, so that a file just over its bound, or one photo too many, is refused by the
# service with its reason in the reader's language rather than cut off here.
CASE_REPORT = Limits(
    body_bytes=2 * MAX_REPORT_BYTES + FORM_OVERHEAD, max_files=1, max_fields=24, max_part_size=16 * KIB
)
CASE_PHOTOS = Limits(
    body_bytes=(MAX_PHOTOS + 1) * MAX_PHOTO_BYTES + FORM_OVERHEAD,
    max_files=2 * MAX_PHOTOS,
    max_fields=24,
    max_part_size=16 * KIB,
)
# A consumer's report: a few short fields and at most one photo, held to a disposal photo's bound by the service.
LEAD_FORM = Limits(body_bytes=2 * MAX_PHOTO_BYTES + FORM_OVERHEAD, max_files=1, max_fields=12, max_part_size=16 * KIB)

# A reviewer's batch: each selected result's id and, for a flagged one, its own acknowledgement.
REVIEW_BATCH = Limits(body_bytes=64 * KIB, max_files=0, max_fields=2 * MAX_BATCH + 16, max_part_size=1 * KIB)

# An instrument's calibration certificate (PDF or image, the bound of a lab report) and an export file of readings.
CALIBRATION = Limits(
    body_bytes=2 * MAX_REPORT_BYTES + FORM_OVERHEAD, max_files=1, max_fields=12, max_part_size=16 * KIB
)
READINGS_FILE = Limits(body_bytes=5 * MIB + FORM_OVERHEAD, max_files=1, max_fields=8, max_part_size=16 * KIB)

# A photographed card from the vehicle page: one photo (8 MB, refused by the service just over it) and the choices.
CARD_PHOTO = Limits(body_bytes=2 * MAX_PHOTO_BYTES + FORM_OVERHEAD, max_files=1, max_fields=8, max_part_size=16 * KIB)

# A vehicle's push: a batch of its outbox with the audit segment it needs (bounded in records and events too).
SYNC_PUSH = Limits(body_bytes=16 * MIB, max_files=0, max_fields=0, max_part_size=0)

ROUTES: dict[tuple[str, str], Limits] = {
    ("POST", "/api/v1/sync/push"): SYNC_PUSH,
    ("POST", "/api/v1/scan"): API_PHOTO,
    ("POST", "/trace/photo"): PAGE_PHOTO,
    ("POST", "/review/batch/approve"): REVIEW_BATCH,
    ("POST", "/review/batch/publish"): REVIEW_BATCH,
    ("POST", "/trace/lead"): LEAD_FORM,
    ("POST", "/vehicle/card-photo"): CARD_PHOTO,
}
# Routes with an id in their path.
PATTERNS: list[tuple[str, re.Pattern[str], Limits]] = [
    ("POST", re.compile(r"/api/v1/cases/[0-9]{1,10}/verdict"), CASE_REPORT),
    ("POST", re.compile(r"/api/v1/cases/[0-9]{1,10}/photos"), CASE_PHOTOS),
    ("POST", re.compile(r"/review/cases/[0-9]{1,10}/verdict"), CASE_REPORT),
    ("POST", re.compile(r"/station/cases/[0-9]{1,10}/disposal"), CASE_PHOTOS),
    ("POST", re.compile(r"/admin/instruments/[A-Za-z0-9._-]{1,40}/calibrations"), CALIBRATION),
    ("POST", re.compile(r"/admin/instruments/[A-Za-z0-9._-]{1,40}/import"), READINGS_FILE),
]


def limits_for(method: str, path: str) -> Limits:
    """The limits of the route a request goes to (by method and path, before any routing or parsing)."""
    found = ROUTES.get((method, path))
    if found is None:
        found = next((lim for m, pattern, lim in PATTERNS if m == method and pattern.fullmatch(path)), None)
    return found or (API_JSON if path == "/api" or path.startswith("/api/") else PAGE_FORM)


_FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


async def parse_form(request: Request) -> None:
    """Parse a form body once, with the route's part limits (FastAPI and the CSRF check reuse the result).

    ``TooLarge`` for too many files or fields or an oversized field, ``Invalid`` for a malformed body."""
    if request.method != "POST" or not request.headers.get("content-type", "").startswith(_FORM_TYPES):
        return
    limits = limits_for(request.method, request.url.path)
    try:
        await request.form(max_files=limits.max_files, max_fields=limits.max_fields, max_part_size=limits.max_part_size)
    except HTTPException as exc:  # Starlette's MultiPartException, as a 400 with its message
        reason = str(exc.detail)
        if "maximum" in reason.lower():
            raise TooLarge("limits.form_too_large", _N("the form is too large: {reason}"), reason=reason) from None
        raise Invalid("limits.form_cannot_read", _N("the form cannot be read: {reason}"), reason=reason) from None


class BoundedFormRoute(APIRoute):
    """A route whose form body is parsed with the limits of ``limits_for`` (Starlette's defaults allow 1000 files)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Parse the form under its limits before the handler sees it."""
        handler = super().get_route_handler()

        async def bounded_handler(request: Request) -> Response:
            await parse_form(request)
            return await handler(request)

        return bounded_handler


async def read_bounded(upload: UploadFile, bound: int) -> Upload:
    """At most one byte more than `bound` of an uploaded file, so the service can tell it is too large."""
    return Upload(await upload.read(bound + 1), upload.filename or "")
