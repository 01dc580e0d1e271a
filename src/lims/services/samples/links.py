"""Signed sample links: the URL a label's QR code carries, which cannot be altered to show another sample."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from lims.i18n import _N
from lims.services.core import clock
from lims.services.core.errors import ServiceError
from lims.services.samples.label_ids import label_id_problem
from lims.settings import get_settings

LINK_SALT = "lims-sample-link"
MAX_TOKEN_LENGTH = 400


class LinkError(ServiceError):
    """A sample link that cannot be trusted; `kind` is tampered, wrong_sample or expired."""

    status_code = 403

    def __init__(self, message: str, kind: str, **params: Any) -> None:
        super().__init__(f"link.{kind}", message, **params)
        self.kind = kind
        if kind == "expired":
            self.status_code = 410


@dataclass(frozen=True)
class VerifiedLink:
    """A link whose signature holds: the sample it names and how old it is."""

    label_id: str
    age_seconds: float


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(get_settings().resolved_secret_key(), salt=LINK_SALT)


def sign(label_id: str, max_age: int | None = None) -> str:
    """The signature token for a sample; `max_age` (seconds) makes the link expire, None never does."""
    problem = label_id_problem(label_id)
    if problem:
        raise LinkError(_N("{problem}"), "tampered", problem=problem)
    payload: dict[str, object] = {"l": label_id}
    if max_age is not None:
        payload["m"] = int(max_age)
    return _serializer().dumps(payload)


def sample_path(label_id: str, max_age: int | None = None) -> str:
    """The site-relative signed link of a sample, e.g. `/s/XQ261129007R?t=…`."""
    return f"/s/{quote(label_id)}?t={sign(label_id, max_age)}"


def sample_url(label_id: str, max_age: int | None = None) -> str:
    """The absolute, ASCII signed link of a sample under the public base URL (what the label QR carries)."""
    url = get_settings().public_base_url.rstrip("/") + sample_path(label_id, max_age)
    url.encode("ascii")  # the base URL must be ASCII (punycode host) for every QR reader
    return url


def verify(label_id: str, token: str, max_age: int | None = None) -> VerifiedLink:
    """Check a link's token for `label_id`; LinkError says whether it was tampered, for another sample or expired."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise LinkError(_N("the link has no valid signature; it was altered or copied incompletely"), "tampered")
    serializer = _serializer()
    try:
        payload, signed_at = serializer.loads(token, return_timestamp=True)
    except SignatureExpired:  # only raised when a max_age is passed, which we never do here
        raise LinkError(_N("the link has expired"), "expired") from None
    except BadSignature:
        raise LinkError(
            _N("the link's signature is not valid; it was altered or copied incompletely"), "tampered"
        ) from None
    if not isinstance(payload, dict) or not isinstance(payload.get("l"), str):
        raise LinkError(_N("the link's signature is not valid"), "tampered")
    if payload["l"] != label_id.upper():
        raise LinkError(
            _N("this link was issued for sample {issued_for}, not {label_id}; it cannot show another sample"),
            "wrong_sample",
            issued_for=payload["l"],
            label_id=label_id,
        )
    age = (clock.now() - signed_at).total_seconds()
    limits = [m for m in (payload.get("m"), max_age) if isinstance(m, int)]
    if limits and age > min(limits):
        raise LinkError(_N("the link has expired; scan the label again or ask the station for a new link"), "expired")
    return VerifiedLink(label_id=payload["l"], age_seconds=age)
