"""Public traceability by sample label id or product code."""

from __future__ import annotations

from fastapi import APIRouter

from lims.api.deps import SessionDep
from lims.models.trace import TraceRecord
from lims.services import trace

router = APIRouter(prefix="/trace", tags=["trace"])


@router.get(
    "/{code:path}",
    responses={
        404: {"description": "well-formed code we have nothing published for"},
        422: {"description": "malformed code, with the reason"},
    },
)
def trace_code(session: SessionDep, code: str) -> TraceRecord:
    """What was tested and found for a code (public, no sign-in)."""
    return trace.trace(session, code)
