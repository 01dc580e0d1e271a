"""The dispatcher: signs each due delivery (Standard Webhooks 1.0), posts it, logs the try, backs off on failure.

Signature: `webhook-signature: v1,<base64 HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")>` where the
key is the base64 after `whsec_` of the subscription's secret; `webhook-id` is the event's id (the same on every
retry: receivers deduplicate on it) and `webhook-timestamp` the Unix time of the try.

A try is claimed first by one conditional update that moves the delivery's next try a lease ahead, so two
dispatchers (several `lims serve` workers) never send the same try, and a dispatcher that dies mid-try leaves
the delivery to be tried again when the lease runs out (at least once; the id makes it once for the receiver).
Only a 2xx answer delivers. Failures are retried with exponential backoff and jitter, capped; a Retry-After is
honoured within the cap; 410 Gone disables the subscription; redirects are not followed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import logging
import random
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from lims.models.sharing import (
    MAX_ERROR,
    MAX_EXCERPT,
    DeliveryState,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from lims.services.core import atomic, audit, clock
from lims.services.core.audit import SYSTEM
from lims.services.core.errors import ServiceError
from lims.services.sharing import targets
from lims.settings import get_settings

log = logging.getLogger(__name__)

BASE_DELAY = timedelta(seconds=5)
MAX_DELAY = timedelta(hours=6)
# 15 tries with delays doubling from 5 s to the 6 h cap span about a day and a half (Standard Webhooks suggests
# a schedule over days); then the delivery is given up and stays in the log.
MAX_ATTEMPTS = 15
BATCH = 50
READ_BYTES = 1024  # of a receiver's answer; only MAX_EXCERPT characters are kept
USER_AGENT = "lims-webhooks/1"


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The `v1,<base64>` signature of a body (Standard Webhooks, symmetric)."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def backoff(attempt: int, rng: random.Random) -> timedelta:
    """How long to wait after failed try number `attempt`: 5 s doubling, capped at 6 h, times a jitter in [½, 1]."""
    ceiling = min(MAX_DELAY, BASE_DELAY * (2 ** min(attempt - 1, 30)))
    jittered: timedelta = ceiling * rng.uniform(0.5, 1.0)
    return jittered


def lease() -> timedelta:
    """How long a claimed try is held before another dispatcher may take it over (longer than any try)."""
    return timedelta(seconds=2 * get_settings().webhook_timeout_seconds + 30)


@dataclass(frozen=True)
class Outcome:
    """What one try gave: the status code (None when no answer came), latency, error, excerpt, Retry-After."""

    status: int | None
    latency_ms: int
    error: str = ""
    excerpt: str = ""
    retry_after: int | None = None

    @property
    def delivered(self) -> bool:
        """Whether the receiver accepted it (2xx)."""
        return self.status is not None and 200 <= self.status < 300


class _PinnedHTTP(http.client.HTTPConnection):
    """An HTTP connection to the address that was checked, whatever the name resolves to now."""

    def __init__(self, target: targets.Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address

    def connect(self) -> None:
        """Connect to the checked address."""
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """An HTTPS connection to the checked address, verifying the certificate of the host name."""

    def __init__(self, target: targets.Target, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self.tls)
        self.address = target.address

    def connect(self) -> None:
        """Connect to the checked address and start TLS for the host name."""
        raw = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(raw, server_hostname=self.host)


def _retry_after(value: str | None) -> int | None:
    if value and value.strip().isdigit():
        return min(int(value.strip()), int(MAX_DELAY.total_seconds()))
    return None


def post(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """POST `body` to `url` (checked again now, connected to the checked address), bounded in time and bytes."""
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = targets.check(url)
    except ServiceError as exc:
        return Outcome(None, took(), exc.reason[:MAX_ERROR])
    timeout = get_settings().webhook_timeout_seconds
    connection: http.client.HTTPConnection = (
        _PinnedHTTPS(target, timeout) if target.scheme == "https" else _PinnedHTTP(target, timeout)
    )
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        excerpt = response.read(READ_BYTES).decode("utf-8", "replace")[:MAX_EXCERPT]
        return Outcome(response.status, took(), "", excerpt, _retry_after(response.getheader("retry-after")))
    except (OSError, http.client.HTTPException) as exc:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        return Outcome(None, took(), reason[:MAX_ERROR])
    finally:
        connection.close()


Sender = Callable[[str, bytes, dict[str, str]], Outcome]


@dataclass
class Report:
    """What one run of the dispatcher did."""

    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """The report as plain data (`lims webhooks deliver --json`)."""
        return {
            "attempted": self.attempted,
            "delivered": self.delivered,
            "retrying": self.retrying,
            "failed": self.failed,
        }


@dataclass(frozen=True)
class _Claim:
    delivery_id: int
    number: int
    url: str
    secret: str
    msg_id: str
    body: str
    subscription_id: int


def _claim(engine: Engine, now: datetime, limit: int) -> list[_Claim]:
    """Take up to `limit` due tries, each by a conditional update moving its next try a lease ahead."""
    claimed: list[_Claim] = []
    with Session(engine, expire_on_commit=False) as session:
        due = session.exec(
            select(WebhookDelivery, WebhookSubscription, WebhookEvent)
            .join(WebhookSubscription, col(WebhookSubscription.id) == col(WebhookDelivery.subscription_id))
            .join(WebhookEvent, col(WebhookEvent.id) == col(WebhookDelivery.event_id))
            .where(
                WebhookDelivery.state == DeliveryState.PENDING,
                col(WebhookDelivery.next_attempt_at) <= now,
                col(WebhookSubscription.enabled).is_(True),
            )
            .order_by(col(WebhookDelivery.next_attempt_at), col(WebhookDelivery.id))
            .limit(limit)
        ).all()
        for delivery, subscription, event in due:
            taken = atomic.update_where(
                session,
                delivery,
                {"state": DeliveryState.PENDING, "attempts": delivery.attempts},
                {"attempts": delivery.attempts + 1, "next_attempt_at": now + lease()},
                col(WebhookDelivery.next_attempt_at) <= now,
            )
            if taken:
                claimed.append(
                    _Claim(
                        int(delivery.id or 0),
                        delivery.attempts,
                        subscription.url,
                        subscription.secret,
                        event.msg_id,
                        event.body,
                        int(subscription.id or 0),
                    )
                )
        session.commit()
    return claimed


def _headers(claim: _Claim, body: bytes, now: datetime) -> dict[str, str]:
    stamp = int(now.timestamp())
    return {
        "content-type": "application/json; charset=utf-8",
        "user-agent": USER_AGENT,
        "webhook-id": claim.msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": signature(claim.secret, claim.msg_id, stamp, body),
    }


def _finish(engine: Engine, claim: _Claim, outcome: Outcome, now: datetime, rng: random.Random, report: Report) -> None:
    """Log the try and move the delivery: delivered, due again after its backoff, or given up."""
    gone = outcome.status == http.client.GONE
    state, next_at = DeliveryState.PENDING, None
    if outcome.delivered:
        state = DeliveryState.DELIVERED
    elif gone or claim.number >= MAX_ATTEMPTS:
        state = DeliveryState.FAILED
    else:
        wait = backoff(claim.number, rng)
        if outcome.retry_after is not None:
            wait = min(MAX_DELAY, max(wait, timedelta(seconds=outcome.retry_after)))
        next_at = clock.now() + wait
    with Session(engine, expire_on_commit=False) as session:
        session.add(
            WebhookAttempt(
                delivery_id=claim.delivery_id,
                number=claim.number,
                at=now,
                status_code=outcome.status,
                latency_ms=outcome.latency_ms,
                error=outcome.error[:MAX_ERROR],
                response_excerpt=outcome.excerpt[:MAX_EXCERPT],
                next_attempt_at=next_at,
            )
        )
        delivery = session.get(WebhookDelivery, claim.delivery_id)
        assert delivery is not None
        values: dict[str, object] = {"state": state, "last_status": outcome.status, "next_attempt_at": next_at}
        if outcome.delivered:
            values["delivered_at"] = clock.now()
        # Only the dispatcher that holds the claim moves the delivery (not one whose lease ran out meanwhile).
        atomic.update_where(session, delivery, {"attempts": claim.number, "state": DeliveryState.PENDING}, values)
        if gone:
            _disable_gone(session, claim.subscription_id)
        session.commit()
    report.attempted += 1
    if state == DeliveryState.DELIVERED:
        report.delivered += 1
    elif state == DeliveryState.FAILED:
        report.failed += 1
    else:
        report.retrying += 1


def _disable_gone(session: Session, subscription_id: int) -> None:
    """The receiver said 410 Gone: it wants no more webhooks (Standard Webhooks), so the subscription stops."""
    row = session.get(WebhookSubscription, subscription_id)
    if row is None or not row.enabled:
        return
    before = audit.snapshot(row)
    values = {"enabled": False, "disabled_reason": "the receiver answered 410 Gone"}
    if atomic.update_where(session, row, {"enabled": True}, values):
        audit.record(session, SYSTEM, row, "disable", before)


def deliver_due(
    engine: Engine, *, limit: int = BATCH, rng: random.Random | None = None, send: Sender | None = None
) -> Report:
    """Try every delivery due now (at most `limit`), each once; returns what happened."""
    rng = rng or random.Random()
    sender = send or post
    report = Report()
    for claim in _claim(engine, clock.now(), limit):
        now = clock.now()
        body = claim.body.encode()
        outcome = sender(claim.url, body, _headers(claim, body, now))
        _finish(engine, claim, outcome, now, rng, report)
    return report


class Dispatcher:
    """Delivers what is due every `seconds` in a background thread (`lims serve`), never blocking requests."""

    def __init__(self, engine: Engine, seconds: float) -> None:
        self.engine = engine
        self.seconds = seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="webhook-dispatcher", daemon=True)

    def start(self) -> Dispatcher:
        """Start the thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread (waits for the tries under way)."""
        self._stop.set()
        self._thread.join(timeout=2 * get_settings().webhook_timeout_seconds + 5)

    def run_once(self) -> Report | None:
        """One run of the dispatcher; an error is logged, never raised (the next run tries again)."""
        try:
            return deliver_due(self.engine)
        except Exception:
            log.exception("webhook delivery failed")
            return None

    def _run(self) -> None:
        while not self._stop.is_set():
            report = self.run_once()
            # A full batch means more is due: go on at once rather than wait.
            if report is None or report.attempted < BATCH:
                self._stop.wait(self.seconds)


def schedule(engine: Engine) -> Dispatcher | None:
    """Start delivering as configured (`LIMS_WEBHOOK_DELIVER_SECONDS`; 0 leaves it to `lims webhooks deliver`)."""
    seconds = get_settings().webhook_deliver_seconds
    return Dispatcher(engine, seconds).start() if seconds > 0 else None
