"""Reports and complaints from consumers (线索): sent from a product or sample page, queued for the district's stations.

A consumer writes what happened and where the product was bought, optionally with one photo (held to the
bounds of a disposal photo: ``services.cases.files``) and a way to reach them. The lead goes to the queue of
the district whose published results the page shows (the sample's own district for a label id), else to the
first district loaded. Sending is rate-limited per address and in total (a `limits` fixed window, in the same
storage as sign-in throttling), so an anonymous visitor cannot flood a station's queue. A station marks a lead
handled once: of two people at once, one wins and the other is told it was handled already.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem
from sqlmodel import Session, col, select

from barcodes.gs1 import CodeError, parse_code
from lims.i18n import _N, Message
from lims.models import FileContent, Sample, SamplingPoint, TestResult
from lims.models.common import Role, utcnow
from lims.models.leads import MAX_CONTACT, MAX_NOTE, MAX_WHAT, MAX_WHERE, ConsumerLead, LeadKind, LeadStatus
from lims.services.access import districts
from lims.services.access.auth import require_role
from lims.services.access.throttle import address_key, fixed_windows
from lims.services.cases.files import Upload, check_photos
from lims.services.core import atomic, audit, visibility
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, Invalid, NotFound, TooManyRequests
from lims.services.samples.label_ids import looks_like_label_id
from lims.settings import Settings

# One person reports a product a few times at most; a whole town in one hour stays under the total.
ADDRESS_LIMITS = "3/10 minutes;10/day"
TOTAL_LIMITS = "300/hour"
PUBLIC = Actor(name="public", role="public")
MAX_CODE = 64
QUEUE_ROWS = 200
# The 12315 line and site of the State Administration for Market Regulation (全国12315平台).
HOTLINE = "12315"
HOTLINE_URL = "https://www.12315.cn/"


class LeadLimiter:
    """Counts leads per client address and in total, in fixed windows."""

    def __init__(
        self, address_limits: str = ADDRESS_LIMITS, total_limits: str = TOTAL_LIMITS, storage_url: str = "memory://"
    ) -> None:
        _store, self._limiter, (self.address_limits, self.total_limits) = fixed_windows(
            "lead", storage_url, address_limits, total_limits
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> LeadLimiter:
        """A limiter in the storage sign-in throttling uses (shared by every worker when that is Redis)."""
        return cls(storage_url=settings.resolved_throttle_storage_url())

    def _tiers(self, address: str) -> list[tuple[RateLimitItem, str, str]]:
        return [(item, "lead-address", address_key(address)) for item in self.address_limits] + [
            (item, "lead-total", "all") for item in self.total_limits
        ]

    def take(self, address: str) -> None:
        """Count one lead from `address`, or TooManyRequests (with how long to wait) when a window is used up."""
        tiers = self._tiers(address)
        for item, scope, key in tiers:
            if not self._limiter.test(item, scope, key):
                reset = self._limiter.get_window_stats(item, scope, key).reset_time
                wait = max(1, math.ceil(reset - time.time()))
                raise TooManyRequests(
                    "leads.too_many",
                    _N("too many reports from here; try again in {minutes} minutes or call 12315"),
                    retry_after=wait,
                    minutes=max(1, math.ceil(wait / 60)),
                )
        for item, scope, key in tiers:
            self._limiter.hit(item, scope, key)


@dataclass(frozen=True)
class LeadForm:
    """What the consumer typed."""

    code: str
    what_happened: str
    where_bought: str = ""
    contact: str = ""
    kind: str = LeadKind.REPORT


FIELDS = {
    "what_happened": _N("What happened"),
    "where_bought": _N("Where bought"),
    "contact": _N("Contact"),
    "note": _N("What was done"),
}


def _bounded(text: str, bound: int, field: str) -> str:
    text = text.strip() if field == "what_happened" else " ".join(text.split())
    if len(text) > bound:
        raise Invalid(
            "leads.too_long", _N("{field} is longer than {count} characters"), field=Message(FIELDS[field]), count=bound
        )
    return text


def _about(session: Session, code: str) -> tuple[str | None, str | None, int | None]:
    """The GTIN-14 or label id a code names, and the district whose queue a lead about it goes to (if known)."""
    code = code.strip()
    if looks_like_label_id(code.upper()):
        label = code.upper()
        row = session.exec(
            select(SamplingPoint.district_id)
            .join(Sample, col(Sample.point_id) == col(SamplingPoint.id))
            .where(Sample.label_id == label)
        ).first()
        return None, label, row
    try:
        parsed = parse_code(code)
    except CodeError:
        parsed = None
    if parsed is None or parsed.gtin is None:
        raise Invalid("leads.no_product", _N("a report names a product barcode or a sample label id"))
    gtin = parsed.gtin.gtin14
    district = session.exec(
        select(SamplingPoint.district_id)
        .join(Sample, col(Sample.point_id) == col(SamplingPoint.id))
        .join(TestResult, col(TestResult.sample_id) == col(Sample.id))
        .where(Sample.gtin == gtin, visibility.public_only())
        .order_by(col(TestResult.tested_at).desc())
        .limit(1)
    ).first()
    return gtin, None, district


def submit(
    session: Session, limiter: LeadLimiter, address: str, form: LeadForm, photo: Upload | None = None
) -> ConsumerLead:
    """Queue a consumer's report or complaint for the district's stations (rate-limited, bounded, audited)."""
    what = _bounded(form.what_happened, MAX_WHAT, "what_happened")
    if not what:
        raise Invalid("leads.say_what", _N("please say what happened"))
    where = _bounded(form.where_bought, MAX_WHERE, "where_bought")
    contact = _bounded(form.contact, MAX_CONTACT, "contact")
    if form.kind not in {k.value for k in LeadKind}:
        raise Invalid("leads.kind", _N("unknown kind of report {kind!r}"), kind=form.kind[:20])
    if not form.code.strip() or len(form.code.strip()) > MAX_CODE:
        raise Invalid("leads.no_product", _N("a report names a product barcode or a sample label id"))
    gtin, label, district_id = _about(session, form.code)
    photo_type = ""
    if photo is not None and photo.data:
        photo_type = check_photos([photo])[0]
    limiter.take(address)  # only a lead that would be kept counts against the sender
    if district_id is None:
        district_id = int(districts.named_or_first(session, None).id or 0)
    digest = None
    if photo_type and photo is not None:
        digest = hashlib.sha256(photo.data).hexdigest()
        session.execute(
            atomic.upsert(session, FileContent)
            .values(sha256=digest, data=photo.data)
            .on_conflict_do_nothing(index_elements=["sha256"])
        )
    lead = ConsumerLead(
        district_id=district_id,
        kind=form.kind,
        code=(label or gtin or form.code.strip())[:MAX_CODE],
        gtin=gtin,
        sample_label_id=label,
        what_happened=what,
        where_bought=where,
        contact=contact,
        photo_sha256=digest,
        photo_type=photo_type,
    )
    session.add(lead)
    session.flush()
    audit.record(session, PUBLIC, lead, "receive", None)
    return lead


def _require_staff(actor: Actor) -> None:
    require_role(actor, Role.STATION, Role.REVIEWER, Role.ADMIN)


def queue(session: Session, actor: Actor, handled: bool = False) -> list[ConsumerLead]:
    """The district's open leads, oldest first (or the latest handled ones, newest first)."""
    _require_staff(actor)
    status = LeadStatus.HANDLED if handled else LeadStatus.OPEN
    order = col(ConsumerLead.handled_at).desc() if handled else col(ConsumerLead.received_at)
    statement = select(ConsumerLead).where(ConsumerLead.district_id == actor.district_id, ConsumerLead.status == status)
    return list(session.exec(statement.order_by(order, col(ConsumerLead.id)).limit(QUEUE_ROWS)).all())


def lead_of(session: Session, actor: Actor, lead_id: int) -> ConsumerLead:
    """One lead of the actor's district (another district's is as unknown as none)."""
    _require_staff(actor)
    lead = session.get(ConsumerLead, lead_id)
    if lead is None or lead.district_id != actor.district_id:
        raise NotFound("leads.no_lead", _N("no report {lead_id}"), lead_id=lead_id)
    return lead


def mark_handled(session: Session, actor: Actor, lead_id: int, note: str = "") -> ConsumerLead:
    """Mark a lead handled, once (a conditional update: the second of two at once gets 409)."""
    lead = lead_of(session, actor, lead_id)
    note = _bounded(note, MAX_NOTE, "note")
    before = audit.snapshot(lead)
    values = {
        "status": LeadStatus.HANDLED,
        "handled_at": utcnow(),
        "handled_by_id": actor.user_id,
        "handled_note": note,
    }
    if not atomic.update_where(session, lead, {"status": LeadStatus.OPEN}, values):
        raise Conflict("leads.handled_already", _N("report {lead_id} has been handled already"), lead_id=lead_id)
    audit.record(session, actor, lead, "handle", before)
    return lead


def photo(session: Session, actor: Actor, lead_id: int) -> tuple[str, bytes]:
    """The content type and bytes of a lead's photo (NotFound without one)."""
    lead = lead_of(session, actor, lead_id)
    content = (
        session.exec(select(FileContent).where(FileContent.sha256 == lead.photo_sha256)).first()
        if lead.photo_sha256
        else None
    )
    if content is None:
        raise NotFound("leads.no_photo", _N("report {lead_id} has no photo"), lead_id=lead_id)
    if hashlib.sha256(content.data).hexdigest() != lead.photo_sha256:
        raise Conflict("files.content_changed", _N("the stored file no longer matches its SHA-256"))
    return lead.photo_type, content.data
