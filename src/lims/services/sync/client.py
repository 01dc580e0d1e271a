"""The node's link to the centre: enrolment, and the sync loop that pushes the outbox and pulls changes.

Plain HTTPS (httpx) with timeouts. Any failure of the link (refused connection, timeout, cut mid-request, a
5xx) marks the node offline and waits with exponential backoff and full jitter (a random wait between zero
and the doubled, capped delay, so vehicles coming back together do not hammer the centre at once), then
tries again from what the database says: the outbox rows not yet acknowledged and the stored cursor. Every
step the node takes is one local transaction, and the centre is idempotent, so a kill at any moment loses
nothing and applies nothing twice.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from lims.i18n import _N
from lims.models import NodeIdentity
from lims.models.common import utcnow
from lims.models.sync import MAX_ERROR, EnrolGrant, PullPage, PushAck
from lims.secret_files import SecretFileError, read_or_create, read_private
from lims.services.core import schema
from lims.services.core.errors import Conflict, ServiceError
from lims.services.sync import outbox, pull, push
from lims.services.sync.status import waiting_records
from lims.settings import Settings, get_settings

log = logging.getLogger(__name__)
MAX_ROUNDS = 50  # pushes or pulls in one round before the loop looks at its stop flag again


class LinkDown(Exception):
    """The centre could not be reached or failed (try again later)."""


class Refused(Exception):
    """The centre refused the request (4xx); its reason is kept and shown."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def backoff(failures: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds to wait after `failures` failures in a row: full jitter, uniform in [0, min(cap, base·2^n)]."""
    return rng.uniform(0, min(cap, base * 2 ** min(failures, 30)))


def _reason(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except ValueError:
        detail = None
    return str(detail or response.reason_phrase or response.status_code)[:MAX_ERROR]


class CentreLink:
    """HTTP calls to the centre's sync API with the vehicle's credential."""

    def __init__(self, centre: str, credential: str | None, timeout: float, transport: Any = None) -> None:
        headers = {"Accept-Language": "zh-CN,en;q=0.5"}
        if credential:
            headers["Authorization"] = f"Bearer {credential}"
        self.client = httpx.Client(base_url=centre.rstrip("/"), timeout=timeout, headers=headers, transport=transport)

    def close(self) -> None:
        """Close the connections."""
        self.client.close()

    def __enter__(self) -> CentreLink:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.client.request(method, f"/api/v1/sync/{path}", **kwargs)
        except httpx.HTTPError as exc:
            raise LinkDown(f"{type(exc).__name__}: {exc}"[:MAX_ERROR]) from None
        if response.status_code >= 500:
            raise LinkDown(f"{response.status_code}: {_reason(response)}")
        if response.status_code >= 400:
            raise Refused(response.status_code, _reason(response))
        try:
            return response.json()
        except ValueError:
            raise LinkDown("the centre's answer is not JSON") from None

    def enrol(self, vehicle: str, code: str) -> EnrolGrant:
        """Exchange the enrolment code for the vehicle's credential and key."""
        return EnrolGrant.model_validate(self._call("POST", "enroll", json={"vehicle": vehicle, "code": code}))

    def push(self, body: str) -> PushAck:
        """Send one push (the body already JSON)."""
        data = self._call("POST", "push", content=body, headers={"Content-Type": "application/json"})
        return PushAck.model_validate(data)

    def pull(self, cursor: str, backlog: int | None = None) -> PullPage:
        """One page of changes after `cursor` (telling the centre how many records still wait here)."""
        params: dict[str, str | int] = {"cursor": cursor}
        if backlog is not None:
            params["backlog"] = backlog
        return PullPage.model_validate(self._call("GET", "pull", params=params))


@dataclass
class RoundReport:
    """What one round did."""

    pushed: int = 0
    pulled: int = 0


def identity(session: Session) -> NodeIdentity | None:
    """The node's identity row, None before enrolment."""
    return session.exec(select(NodeIdentity)).first()


def sync_round(engine: Engine, link: CentreLink, batch_size: int) -> RoundReport:
    """Push every waiting record, then pull every waiting change (LinkDown or Refused stop it)."""
    report = RoundReport()
    for _ in range(MAX_ROUNDS):
        with Session(engine, expire_on_commit=False) as session:
            body = push.build_push(session, batch_size)
            if body is None:
                break
            text = body.model_dump_json()
        ack = link.push(text)
        with Session(engine, expire_on_commit=False) as session:
            report.pushed += push.mark_acked(session, ack)
    for _ in range(MAX_ROUNDS):
        with Session(engine, expire_on_commit=False) as session:
            me = identity(session)
            if me is None:
                raise Conflict("sync.not_enrolled", _N("this node is not enrolled: run `lims node enroll` first"))
            cursor = pull.node_cursor(session, me.district_id)
            district_id = me.district_id
            backlog = waiting_records(session)
        page = link.pull(cursor, backlog)
        with Session(engine, expire_on_commit=False) as session:
            report.pulled += pull.apply_page(session, page, district_id)
        if not page.more:
            break
    return report


def _note_failure(engine: Engine, reason: str) -> None:
    with Session(engine) as session:
        me = identity(session)
        if me is not None:
            me.offline_since = me.offline_since or utcnow()
            me.last_error = reason[:MAX_ERROR]
            session.add(me)
            session.commit()


def read_credential(settings: Settings) -> str:
    """The vehicle credential kept by `lims node enroll`."""
    try:
        return read_private(settings.resolved_node_credential_file()).decode().strip()
    except FileNotFoundError:
        raise Conflict("sync.not_enrolled", _N("this node is not enrolled: run `lims node enroll` first")) from None
    except SecretFileError as exc:
        raise Conflict("sync.credential_file", _N("the node's credential file: {exc}"), exc=exc) from None


class SyncLoop:
    """The node's sync loop in a background thread: rounds every `seconds`, backoff after failures."""

    def __init__(self, engine: Engine, link: CentreLink, settings: Settings, rng: random.Random | None = None) -> None:
        self.engine = engine
        self.link = link
        self.settings = settings
        self.rng = rng or random.Random()
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="node-sync", daemon=True)

    def start(self) -> SyncLoop:
        """Start the thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread (after the request under way, bounded by the timeout)."""
        self._stop.set()
        self._thread.join(timeout=self.settings.node_timeout_seconds + 5)
        self.link.close()

    def run_once(self) -> float:
        """One round; returns the seconds to wait before the next."""
        try:
            sync_round(self.engine, self.link, self.settings.node_batch_size)
        except (LinkDown, Refused, ServiceError) as exc:
            self.failures += 1
            reason = exc.reason if isinstance(exc, Refused | ServiceError) else str(exc)
            _note_failure(self.engine, reason)
            return self._backoff()
        except Exception:  # a bug must not stop the loop for good; it is logged and retried with backoff
            log.exception("node sync round failed")
            self.failures += 1
            return self._backoff()
        self.failures = 0
        return self.settings.node_sync_seconds

    def _backoff(self) -> float:
        return backoff(self.failures, self.settings.node_sync_seconds, self.settings.node_backoff_max_seconds, self.rng)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self.run_once())


def schedule(engine: Engine) -> SyncLoop | None:
    """Start the sync loop when this LIMS is an enrolled node (`LIMS_NODE_CENTRE`)."""
    settings = get_settings()
    if not settings.is_node:
        return None
    outbox.enable(engine)
    link = CentreLink(settings.node_centre, read_credential(settings), settings.node_timeout_seconds)
    return SyncLoop(engine, link, settings).start()


def enrol_node(engine: Engine, settings: Settings, centre: str, vehicle: str, code: str, transport: Any = None) -> int:
    """Enrol this node: obtain the credential and audit key, create the database, pull the district's
    reference data, plan and kit lots, and record the node's identity. Returns the rows pulled."""
    credential_file = settings.resolved_node_credential_file()
    if credential_file.exists():
        raise Conflict(
            "sync.already_enrolled",
            _N("this node is enrolled already ({path} exists); a new enrolment needs a new data folder"),
            path=credential_file,
        )
    with CentreLink(centre, None, settings.node_timeout_seconds, transport) as link:
        grant = link.enrol(vehicle, code)
    configured = settings.audit_key.get_secret_value()
    if configured and configured != grant.audit_key:
        raise Conflict(
            "sync.audit_key_set",
            _N("LIMS_AUDIT_KEY is set: a node signs its audit trail with its vehicle's key, so unset it"),
        )
    if not configured:
        read_or_create(settings.resolved_audit_key_file(), lambda: (grant.audit_key + "\n").encode())
    read_or_create(credential_file, lambda: (grant.credential + "\n").encode())
    schema.upgrade(engine)
    outbox.enable(engine)
    pulled = 0
    with CentreLink(centre, grant.credential, settings.node_timeout_seconds, transport) as link:
        cursor = "0.0"
        while True:
            page = link.pull(cursor)
            with Session(engine, expire_on_commit=False) as session:
                pulled += pull.apply_page(session, page, grant.district_id)
            cursor = page.cursor
            if not page.more:
                break
    with Session(engine) as session:
        session.add(NodeIdentity(vehicle=grant.vehicle, centre_url=centre, district_id=grant.district_id))
        session.commit()
    return pulled
