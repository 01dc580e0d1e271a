"""One classifier for every refusal, used by the API (JSON) and the pages (HTML): never a 500 for bad input.

`classify` maps an exception to its status, code, message id and parameters; the API answers
``{"detail": <text in the request's language>, "code": …, "params": {…}, …extra}`` and the pages show
the same text on the error page.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from lims import i18n
from lims.i18n import _N
from lims.services.core.errors import ServiceError, Unauthorized

DATA_ERROR = _N("a value is out of range or contains characters that cannot be stored")
INTEGRITY_ERROR = _N("conflicts with an existing record")
BUSY = _N("the database is busy; try again")
DATABASE_FAILED = _N("the database could not answer")
UNEXPECTED = _N("an unexpected error occurred; it has been logged")
INVALID_INPUT = _N("the input was not accepted: {problems}")


@dataclass(frozen=True)
class Refusal:
    """What to answer for an exception: status, code, message id with parameters, headers and extra fields."""

    status: int
    code: str
    message: str
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    # the parameters as raised (terms, messages), rendered in the reader's language; `params` is what JSON carries
    raised: dict[str, Any] | None = None

    def text(self, lang: str) -> str:
        """The reason in `lang`."""
        return i18n.render(self.message, lang, self.params if self.raised is None else self.raised)


def _json_safe(value: Any) -> Any:
    """`value` with every number JSON cannot carry (NaN, infinities) written as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return value


def validation_problems(exc: RequestValidationError | ValidationError) -> str:
    """The first few field problems of a rejected request or form, as one line."""
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(x) for x in error.get("loc", ()) if x not in ("body", "query", "path", "form"))
        parts.append(f"{where}: {error.get('msg', '')}" if where else str(error.get("msg", "")))
    return "; ".join(parts) or "the form is incomplete"


def _is_busy(exc: OperationalError) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text or "could not obtain lock" in text


def classify(exc: Exception) -> Refusal:
    """The answer for `exc`: a service error as raised, bad input 422, a duplicate 409, a busy database 503."""
    if isinstance(exc, ServiceError):
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else {}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(exc.retry_after)
        return Refusal(
            exc.status_code, exc.code, exc.message, exc.json_params(), headers, dict(exc.details), dict(exc.params)
        )
    if isinstance(exc, RequestValidationError | ValidationError):
        errors = _json_safe(jsonable_encoder(exc.errors()))
        return Refusal(
            422, "request.invalid", INVALID_INPUT, {"problems": validation_problems(exc)}, {}, {"errors": errors}
        )
    if isinstance(exc, IntegrityError):
        return Refusal(409, "db.conflict", INTEGRITY_ERROR)
    if isinstance(exc, DataError):
        return Refusal(422, "db.unstorable", DATA_ERROR)
    if isinstance(exc, OperationalError):
        if _is_busy(exc):
            return Refusal(503, "db.busy", BUSY, headers={"Retry-After": "1"})
        return Refusal(500, "db.failed", DATABASE_FAILED)
    return Refusal(500, "internal", UNEXPECTED)


def request_language(request: Request) -> str:
    """The language of an API answer: `?lang=`, the `lang` cookie, then Accept-Language, then Chinese."""
    return i18n.pick_language(
        request.query_params.get("lang"), request.cookies.get("lang"), request.headers.get("accept-language")
    )


async def answer(request: Request, exc: Exception) -> JSONResponse:
    """The JSON answer for any exception `classify` knows."""
    refusal = classify(exc)
    body: dict[str, Any] = {
        **refusal.extra,
        "detail": refusal.text(request_language(request)),
        "code": refusal.code,
        "params": refusal.params,
    }
    if isinstance(exc, RequestValidationError):  # FastAPI's shape: detail lists each field's problem
        body = {"detail": refusal.extra["errors"], "code": refusal.code, "params": refusal.params}
    return JSONResponse(body, status_code=refusal.status, headers=refusal.headers)


def install(app: FastAPI) -> None:
    """Register the handlers on `app`."""
    for kind in (ServiceError, RequestValidationError, DataError, IntegrityError, OperationalError):
        app.add_exception_handler(kind, answer)
