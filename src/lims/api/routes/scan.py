"""Photo upload: decode the barcodes on it and trace each one."""

from __future__ import annotations

from fastapi import APIRouter, UploadFile
from sqlmodel import SQLModel

from barcodes.imageio import MAX_FILE_BYTES
from lims.api.deps import SessionDep
from lims.services import scanning

router = APIRouter(tags=["trace"])


class ScanResult(SQLModel):
    """The codes found on a photo."""

    codes: list[scanning.ScannedCode]


@router.post(
    "/scan",
    responses={413: {"description": "file too large"}, 422: {"description": "not a readable image, with the reason"}},
)
def scan(session: SessionDep, image: UploadFile) -> ScanResult:
    """Decode every supported barcode on an uploaded photo (public) and trace each code."""
    data = image.file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise scanning.PayloadTooLarge(f"the photo is larger than {MAX_FILE_BYTES // 1_000_000} MB")
    return ScanResult(codes=scanning.scan(session, data))
