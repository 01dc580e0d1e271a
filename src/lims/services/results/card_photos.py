"""A tester's photo of colloidal-gold cards, acquired as the card-photo family's instrument path does: measured by
the family's own driver code, numbered by its hash as a watched folder's photos are, stored by `ingest` (each card
once, the photo kept as evidence), refused with the
reason when it cannot be measured."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlmodel import Session, col, select

from instrument_drivers import family_registry
from instrument_drivers.card_photo import codec
from instrument_drivers.card_photo.driver import CardPhotoDriver, readings_from_photo
from instrument_drivers.card_photo.measure import PhotoRefused
from instrument_drivers.reading import Reading
from lims.i18n import _N
from lims.models import Instrument, TestItem
from lims.models.common import Role
from lims.services.access.auth import require_role
from lims.services.core.audit import Actor
from lims.services.core.errors import Busy, Conflict, Invalid
from lims.services.reference import reference_data
from lims.services.results import evidence, ingest
from lims.services.samples import sampling

FAMILY = CardPhotoDriver.family
MEASURING = threading.BoundedSemaphore(2)  # photos measured at once per process (each takes a core for a moment)
WAIT_SECONDS = 10.0
RETRY_AFTER_SECONDS = 5


class PhotoRefusedError(Invalid):
    """A photo the family cannot measure, with the family's reason (`measure.REFUSALS`)."""


@dataclass(frozen=True)
class Choice:
    """What the tester says the photo shows: the sample, and the item and kit lot for cards whose code is unread."""

    label_id: str
    item_code: str = ""
    kit_lot: str = ""


def camera(session: Session, actor: Actor) -> Instrument:
    """The district's card-photo instrument (the vehicle's phone camera) results from uploads are measured on."""
    found = session.exec(
        select(Instrument)
        .where(Instrument.family == FAMILY, Instrument.district_id == actor.district_id)
        .order_by(col(Instrument.serial))
    ).first()
    if found is None:
        raise Conflict(
            "card_photo.no_camera",
            _N("the district has no card-photo instrument; an administrator registers one (family {family})"),
            family=FAMILY,
        )
    return found


def items(session: Session) -> list[TestItem]:
    """The test items a card photo measures (the colloidal-gold items, judged by their kit lots' cut-offs)."""
    family = family_registry.item_family(FAMILY)
    return [item for item in reference_data.items(session) if item.family == family]


def refused(exc: PhotoRefused) -> PhotoRefusedError:
    """The service error of a measurement's refusal, in the reader's language when shown."""
    return PhotoRefusedError(f"card_photo.{exc.code}", exc.message_id, **exc.params)


def readings(session: Session, actor: Actor, data: bytes, choice: Choice) -> list[Reading]:
    """The readings of an uploaded photo, one per card, measured as the family's driver measures them;
    `PhotoRefusedError` (422) with the reason when the photo cannot be measured, TooLarge / Invalid for a file
    that is not a bounded JPEG or PNG, NotFound for a sample the district does not have."""
    require_role(actor, Role.TESTER)
    evidence.check(data)
    sample = sampling.get_for(session, actor, choice.label_id.strip().upper())
    item_code = choice.item_code.strip().upper()
    if item_code:
        item = session.exec(select(TestItem).where(TestItem.code == item_code)).first()
        if item is None:
            raise Invalid("card_photo.unknown_item", _N("unknown item {item_code}"), item_code=item_code[:16])
    photo = codec.Photo(camera(session, actor).serial, codec.photo_number(data), sample.label_id, data)
    if not MEASURING.acquire(timeout=WAIT_SECONDS):
        raise Busy(
            "card_photo.busy",
            _N("the server is measuring other photos; try again shortly"),
            retry_after=RETRY_AFTER_SECONDS,
        )
    try:
        return readings_from_photo(photo, item_code or None, choice.kit_lot.strip() or None)
    except PhotoRefused as exc:
        raise refused(exc) from None
    finally:
        MEASURING.release()


def store(session: Session, actor: Actor, found: list[Reading]) -> list[ingest.Stored]:
    """Store the cards of a photo in the caller's transaction, under the tester who photographed them: a judged
    result each, or a held reading with the reason (an unknown kit lot, a lot that may not be used)."""
    require_role(actor, Role.TESTER)
    return ingest.store_readings(session, found, actor)
