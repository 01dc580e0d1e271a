"""Public traceability by sample label id or product code."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from lims.api.deps import SessionDep
from lims.models.trace import TraceRecord
from lims.services.public import exchange, trace

router = APIRouter(tags=["trace"])


@router.get(
    "/trace/{code:path}",
    response_model=TraceRecord,
    responses={
        404: {"description": "well-formed code we have nothing published for"},
        422: {"description": "malformed code, with the reason"},
    },
)
async def trace_code(session: SessionDep, code: str) -> Response:
    """What was tested and found for a code (public, no sign-in)."""
    # The hottest public route: its indexed queries run on the event loop, and the JSON answer comes
    # from a cache keyed on the audit head, so it is never stale and never validated twice.
    status, body = trace.trace_json(session, code)
    return Response(body, status_code=status, media_type="application/json")


@router.get("/epcis/{code:path}", responses={404: {"description": "nothing published for this code"}})
def epcis(session: SessionDep, code: str) -> JSONResponse:
    """Published results for a product, lot (GS1 code with AI 10) or sample as GS1 EPCIS 2.0 JSON-LD."""
    return JSONResponse(exchange.epcis_for(session, code), media_type="application/ld+json")
