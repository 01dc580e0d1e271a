"""Decode an uploaded photo and trace every code on it: product codes, sample label ids, signed sample links.

Decoding is heavy (a 40 MP photo takes seconds of CPU and ~100 MB), so it never runs on the event loop:
it runs in a worker thread, and at most ``DECODE_SLOTS`` photos are decoded at once per process. A photo
that finds every slot taken waits up to ``WAIT_SECONDS`` (at most ``MAX_WAITING`` photos wait); beyond
that the answer is 503 with ``Retry-After`` at once. A waiting photo holds only its spooled upload: it is
read into memory after it gets its slot.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import parse_qs, urlsplit

import anyio
from sqlmodel import Session, SQLModel

from barcodes.decode import Decoded, decode
from barcodes.imageio import MAX_FILE_BYTES, ImageError
from lims.i18n import _N
from lims.models.trace import TraceRecord
from lims.services.core.errors import Busy, Invalid, ServiceError, TooLarge
from lims.services.public import trace
from lims.services.samples import links
from lims.settings import get_settings

API_PHOTO_BYTES = MAX_FILE_BYTES  # POST /api/v1/scan: an original from any camera
PAGE_PHOTO_BYTES = 15 * 1024 * 1024  # POST /trace/photo: what a phone browser uploads
DECODE_SLOTS = 2
MAX_WAITING = 8
WAIT_SECONDS = 10.0
RETRY_AFTER_SECONDS = 5
_POLL_SECONDS = 0.02


class DecodeSlots:
    """At most ``slots`` decodes at once; up to ``max_waiting`` more wait ``wait_seconds``; the rest get 503.

    A plain semaphore polled from the event loop: waiting never occupies a worker thread, and one
    object serves every event loop and thread of the process (tests start several loops)."""

    def __init__(self, slots: int, max_waiting: int, wait_seconds: float) -> None:
        self.slots = slots
        self.max_waiting = max_waiting
        self.wait_seconds = wait_seconds
        self._free = threading.Semaphore(slots)
        self._lock = threading.Lock()
        self.waiting = 0

    def _busy(self) -> Busy:
        return Busy(
            "scanning.server_decoding_photos_more",
            _N("the server is decoding {slots} photos and {waiting} more are waiting; try again shortly"),
            retry_after=RETRY_AFTER_SECONDS,
            slots=self.slots,
            waiting=self.waiting,
        )

    @asynccontextmanager
    async def held(self) -> AsyncIterator[None]:
        """A decode slot for the duration of the block, or ``Busy``."""
        if not self._free.acquire(blocking=False):
            with self._lock:
                if self.waiting >= self.max_waiting:
                    raise self._busy()
                self.waiting += 1
            try:
                deadline = time.monotonic() + self.wait_seconds
                while not self._free.acquire(blocking=False):
                    if time.monotonic() >= deadline:
                        raise self._busy()
                    await anyio.sleep(_POLL_SECONDS)
            finally:
                with self._lock:
                    self.waiting -= 1
        try:
            yield
        finally:
            self._free.release()


SLOTS = DecodeSlots(DECODE_SLOTS, MAX_WAITING, WAIT_SECONDS)


def _refusal(exc: ImageError) -> ServiceError:
    kind = TooLarge if exc.code == "too_large" else Invalid
    return kind(f"scanning.{exc.code}", _N("cannot read the photo: {problem}"), problem=exc.reason)


async def decode_upload(read: Callable[[int], Awaitable[bytes]], max_bytes: int) -> list[Decoded]:
    """The codes on an uploaded photo, decoded in a worker thread under ``SLOTS``.

    ``read(n)`` returns up to n bytes of the upload (``UploadFile.read``). ``TooLarge`` (413) for a file or
    image over the limits, ``Invalid`` (422) for one that is empty, not an image or damaged,
    ``Busy`` (503, with ``retry_after``) when the server is saturated with decodes."""
    async with SLOTS.held():
        data = await read(max_bytes + 1)
        if len(data) > max_bytes:
            raise TooLarge(
                "scanning.photo_larger_than_mb",
                _N("the photo is larger than {megabytes} MB"),
                megabytes=max_bytes // (1024 * 1024),
            )
        if not data:
            raise Invalid("scanning.cannot_read_photo_file", _N("cannot read the photo: the file is empty"))
        try:
            return await anyio.to_thread.run_sync(decode, data)
        except ImageError as exc:
            raise _refusal(exc) from None


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


def trace_codes(session: Session, found: list[Decoded]) -> list[ScannedCode]:
    """Every decoded code with its trace record, or the reason it cannot be traced."""
    scanned = []
    for item in found:
        try:
            if item.gs1_problem:
                raise Invalid(
                    "scanning.code_marked_gs1_but",
                    _N("the code is marked GS1 but breaks GS1 syntax: {problem}"),
                    problem=item.gs1_problem,
                )
            code = _traceable(item.text)
            record, status, detail = trace.trace(session, code), 200, None
        except ServiceError as exc:
            code, record, status, detail = item.text, None, exc.status_code, exc.reason
        scanned.append(
            ScannedCode(symbology=item.symbology, text=item.text, code=code, status=status, detail=detail, trace=record)
        )
    return scanned
