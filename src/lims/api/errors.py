"""Turn service errors and database refusals into JSON answers with a reason, never a 500 for bad input."""

from __future__ import annotations

import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from lims.services.core.errors import ServiceError, Unauthorized


async def service_error(request: Request, exc: Exception) -> JSONResponse:
    """4xx with the service's reason."""
    assert isinstance(exc, ServiceError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return JSONResponse({"detail": exc.reason, **exc.details}, status_code=exc.status_code, headers=headers)


def _json_safe(value: Any) -> Any:
    """`value` with every number JSON cannot carry (NaN, infinities) written as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """422 with each field's problem; a rejected NaN or infinity is echoed as text, never a 500."""
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"detail": _json_safe(jsonable_encoder(exc.errors()))}, status_code=422)


async def data_error(request: Request, exc: Exception) -> JSONResponse:
    """A value the database cannot hold (out of range number, NUL character)."""
    return JSONResponse(
        {"detail": "a value is out of range or contains characters that cannot be stored"}, status_code=422
    )


async def integrity_error(request: Request, exc: Exception) -> JSONResponse:
    """A duplicate or a broken reference."""
    return JSONResponse({"detail": "conflicts with an existing record"}, status_code=409)


async def busy_error(request: Request, exc: Exception) -> JSONResponse:
    """The database is busy (lock timeout): 503, the client may retry. Any other operational error is ours."""
    text = str(exc).lower()
    if "locked" in text or "busy" in text or "could not obtain lock" in text:
        return JSONResponse(
            {"detail": "the database is busy; try again"}, status_code=503, headers={"Retry-After": "1"}
        )
    return JSONResponse({"detail": "the database could not answer"}, status_code=500)


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""
    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(DataError, data_error)
    app.add_exception_handler(IntegrityError, integrity_error)
    app.add_exception_handler(OperationalError, busy_error)
