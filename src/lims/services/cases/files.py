"""Files attached to a case: a lab report (PDF) and disposal photos, bounded, sniffed, stored by SHA-256, audited."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlmodel import Session, col, select

from barcodes.imageio import MAX_PIXELS, MAX_SIDE, ImageError, header_size
from lims.i18n import _N
from lims.models import PositiveCase
from lims.models.cases import CaseFile, FileContent, FilePurpose
from lims.models.common import Role
from lims.services.access.auth import require_role
from lims.services.core import atomic, audit
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, Invalid, NotFound, TooLarge

MIB = 1024 * 1024
# A lab report is a few pages of text and a scanned signature: 10 MB holds any we have seen, several times over.
MAX_REPORT_BYTES = 10 * MIB
# A phone photo is 2–6 MB; the image header must also pass the barcode reader's pixel bounds
# (barcodes.imageio.MAX_PIXELS / MAX_SIDE), so a decompression bomb is refused from its header alone.
MAX_PHOTO_BYTES = 8 * MIB
MAX_PHOTOS = 6
PHOTO_TYPES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
PDF_MAGIC = b"%PDF-"
EXTENSIONS = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


@dataclass(frozen=True)
class Upload:
    """An uploaded file as read: at most one byte over its bound, so an oversized file is recognised."""

    data: bytes
    name: str = ""


def check_report(upload: Upload) -> str:
    """The content type of a lab report, or TooLarge / Invalid: a PDF (by its `%PDF-` magic) of at most 10 MB."""
    if len(upload.data) > MAX_REPORT_BYTES:
        raise TooLarge(
            "files.report_too_large",
            _N("the lab report is larger than {megabytes} MB"),
            megabytes=MAX_REPORT_BYTES // MIB,
        )
    if not upload.data.startswith(PDF_MAGIC):
        raise Invalid("files.report_not_pdf", _N("the lab report is not a PDF file"))
    return "application/pdf"


def check_photos(uploads: list[Upload], already: int = 0) -> list[str]:
    """The content types of disposal photos, or TooLarge / Invalid: at most 6 JPEG, PNG or WebP photos of 8 MB
    to a case (`already` are attached)."""
    if already + len(uploads) > MAX_PHOTOS:
        raise TooLarge("files.too_many_photos", _N("at most {count} photos may be attached"), count=MAX_PHOTOS)
    types = []
    for number, upload in enumerate(uploads, start=1):
        if len(upload.data) > MAX_PHOTO_BYTES:
            raise TooLarge(
                "files.photo_too_large",
                _N("photo {number} is larger than {megabytes} MB"),
                number=number,
                megabytes=MAX_PHOTO_BYTES // MIB,
            )
        try:
            kind, width, height = header_size(upload.data)
        except ImageError:
            raise Invalid(
                "files.photo_not_image", _N("photo {number} is not a JPEG, PNG or WebP image"), number=number
            ) from None
        if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
            raise TooLarge("files.photo_too_many_pixels", _N("photo {number} has too many pixels"), number=number)
        if kind not in PHOTO_TYPES:
            raise Invalid("files.photo_not_image", _N("photo {number} is not a JPEG, PNG or WebP image"), number=number)
        types.append(PHOTO_TYPES[kind])
    return types


def keep(session: Session, data: bytes) -> str:
    """Keep `data` once in the file store, by its SHA-256 (returned); a second copy of the same bytes adds nothing."""
    digest = hashlib.sha256(data).hexdigest()
    session.execute(
        atomic.upsert(session, FileContent)
        .values(sha256=digest, data=data)
        .on_conflict_do_nothing(index_elements=["sha256"])
    )
    return digest


def content(session: Session, digest: str) -> bytes | None:
    """The stored bytes of SHA-256 `digest`, or None when they are missing or no longer match it."""
    row = session.exec(select(FileContent).where(FileContent.sha256 == digest)).first()
    if row is None or hashlib.sha256(row.data).hexdigest() != digest:
        return None
    return row.data


def store(
    session: Session, actor: Actor, case: PositiveCase, purpose: FilePurpose, data: bytes, content_type: str
) -> CaseFile:
    """Keep `data` once by its SHA-256 and attach it to `case` (the attachment row is audited)."""
    digest = keep(session, data)
    row = CaseFile(
        case_id=int(case.id or 0),
        district_id=case.district_id,
        purpose=purpose,
        content_type=content_type,
        size=len(data),
        sha256=digest,
        uploaded_by_id=int(actor.user_id or 0),
    )
    session.add(row)
    session.flush()
    audit.record(session, actor, row, "attach", None)
    return row


def of_case(session: Session, case: PositiveCase, purpose: FilePurpose) -> list[CaseFile]:
    """The files of one purpose attached to a case, oldest first."""
    statement = select(CaseFile).where(CaseFile.case_id == case.id, CaseFile.purpose == purpose)
    return list(session.exec(statement.order_by(col(CaseFile.id))).all())


def download(session: Session, actor: Actor, case: PositiveCase, file_id: int) -> tuple[CaseFile, bytes]:
    """A file of a case for the district's staff (the caller has checked the case is visible), checked against
    its SHA-256."""
    require_role(actor, Role.REVIEWER, Role.STATION, Role.ADMIN, Role.TESTER)
    row = session.get(CaseFile, file_id)
    if row is None or row.case_id != case.id or row.district_id != actor.district_id:
        raise NotFound("files.no_file", _N("no file {file_id} on this case"), file_id=file_id)
    content = session.exec(select(FileContent).where(FileContent.sha256 == row.sha256)).first()
    if content is None or hashlib.sha256(content.data).hexdigest() != row.sha256:
        raise Conflict("files.content_changed", _N("the stored file no longer matches its SHA-256"))
    return row, content.data


def download_name(row: CaseFile) -> str:
    """The name a case file is saved under: its case, purpose and id, with the extension of its type."""
    return f"case-{row.case_id}-{row.purpose}-{row.id}.{EXTENSIONS.get(row.content_type, 'bin')}"
