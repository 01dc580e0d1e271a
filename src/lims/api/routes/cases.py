"""Positive-result cases: list, read, and record each step of the legal procedure (notice, suspension of sale,
seal, retest request or acceptance, the lab's verdict with its report, photos, disposal)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import Response

from lims.api.deps import CurrentUser, RowId, SessionDep
from lims.api.limits import BoundedFormRoute, read_bounded
from lims.models.cases import (
    CasePublic,
    Disposal,
    LabVerdict,
    NoticeReceipt,
    RetestRequest,
    SaleSuspension,
    SealNumber,
)
from lims.services.cases import files, procedure

router = APIRouter(prefix="/cases", tags=["cases"], route_class=BoundedFormRoute)
CaseId = RowId
FileId = RowId


@router.get("")
def list_cases(session: SessionDep, actor: CurrentUser, open_only: bool = False) -> list[CasePublic]:
    """Cases of your district (or your station's points), newest first."""
    return [procedure.public(session, c) for c in procedure.list_for(session, actor, open_only=open_only)]


@router.get("/{case_id}")
def read(session: SessionDep, actor: CurrentUser, case_id: CaseId) -> CasePublic:
    """One case with its procedure, stage, public state and clocks."""
    return procedure.public(session, procedure.get_for(session, actor, case_id))


@router.post("/{case_id}/notice-receipt")
def notice_receipt(session: SessionDep, actor: CurrentUser, case_id: CaseId, body: NoticeReceipt) -> CasePublic:
    """The party received the results notice (how, when, who); the four-hour window starts then."""
    case = procedure.deliver_notice(session, actor, case_id, body)
    session.commit()
    return procedure.public(session, case)


@router.post("/{case_id}/sale-suspension")
def sale_suspension(session: SessionDep, actor: CurrentUser, case_id: CaseId, body: SaleSuspension) -> CasePublic:
    """Sale of the product at the stall is suspended (暂停销售), confirmed there by the named person."""
    case = procedure.suspend_sale(session, actor, case_id, body)
    session.commit()
    return procedure.public(session, case)


@router.post("/{case_id}/seal")
def seal(session: SessionDep, actor: CurrentUser, case_id: CaseId, body: SealNumber) -> CasePublic:
    """The seal number of the retained sample, when registration did not record it."""
    procedure.seal_sample(session, actor, case_id, body)
    session.commit()
    return procedure.public(session, procedure.get_for(session, actor, case_id))


@router.post("/{case_id}/retest-request")
def retest_request(session: SessionDep, actor: CurrentUser, case_id: CaseId, body: RetestRequest) -> CasePublic:
    """The party asks for a retest at a qualified lab within four hours of receiving the notice."""
    case = procedure.request_retest(session, actor, case_id, body)
    session.commit()
    return procedure.public(session, case)


@router.post("/{case_id}/acceptance")
def acceptance(session: SessionDep, actor: CurrentUser, case_id: CaseId) -> CasePublic:
    """The tested party accepts the result."""
    case = procedure.accept(session, actor, case_id)
    session.commit()
    return procedure.public(session, case)


@router.post("/{case_id}/verdict")
async def verdict(
    session: SessionDep,
    actor: CurrentUser,
    case_id: CaseId,
    body: Annotated[LabVerdict, Form()],
    report: Annotated[UploadFile, File(description="the lab's report, a PDF of at most 10 MB")],
) -> CasePublic:
    """The qualified lab's verdict and its report (reviewers of the district only)."""
    upload = await read_bounded(report, files.MAX_REPORT_BYTES)
    case = procedure.record_verdict(session, actor, case_id, body, upload)
    session.commit()
    return procedure.public(session, case)


@router.post("/{case_id}/photos")
async def photos(
    session: SessionDep,
    actor: CurrentUser,
    case_id: CaseId,
    photo: Annotated[list[UploadFile], File(description="JPEG, PNG or WebP, at most 8 MB each, 6 a case")],
) -> CasePublic:
    """Photos of the goods and their disposal."""
    uploads = [await read_bounded(p, files.MAX_PHOTO_BYTES) for p in photo[: files.MAX_PHOTOS + 1]]
    case = procedure.attach_photos(session, actor, case_id, uploads)
    session.commit()
    return procedure.public(session, case)


@router.get("/{case_id}/files/{file_id}")
def download(session: SessionDep, actor: CurrentUser, case_id: CaseId, file_id: FileId) -> Response:
    """A file of the case (the lab report, a photo), for the district's staff."""
    case = procedure.get_for(session, actor, case_id)
    row, data = files.download(session, actor, case, file_id)
    return Response(
        data,
        media_type=row.content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{files.download_name(row)}"',
            "X-Content-SHA256": row.sha256,
        },
    )


@router.post("/{case_id}/disposal")
def disposal(session: SessionDep, actor: CurrentUser, case_id: CaseId, body: Disposal) -> CasePublic:
    """What was done with the goods (暂停销售, 下架, 封存, 退货/召回, 销毁, 无害化处理), how much; closes the case."""
    case = procedure.record_disposal(session, actor, case_id, body)
    session.commit()
    return procedure.public(session, case)
