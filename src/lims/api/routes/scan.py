"""Photo upload: decode the barcodes on it and trace each one."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, UploadFile
from sqlmodel import SQLModel

from lims.api.deps import SessionDep
from lims.api.limits import BoundedFormRoute
from lims.services.public import scanning

router = APIRouter(tags=["trace"], route_class=BoundedFormRoute)


class ScanResult(SQLModel):
    """The codes found on a photo."""

    codes: list[scanning.ScannedCode]


@router.post(
    "/scan",
    responses={
        413: {"description": "file, image or form too large, with the reason"},
        422: {"description": "not a readable image, with the reason"},
        503: {"description": "too many photos are being decoded; try again after Retry-After seconds"},
    },
)
async def scan(session: SessionDep, image: UploadFile) -> ScanResult:
    """Decode every supported barcode on an uploaded photo (public) and trace each code."""
    found = await scanning.decode_upload(image.read, scanning.API_PHOTO_BYTES)
    return ScanResult(codes=await anyio.to_thread.run_sync(scanning.trace_codes, session, found))
