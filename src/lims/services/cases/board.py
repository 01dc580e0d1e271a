"""The station's case board (read side): each case with its product, the seller to follow up, and the next
deadline its clocks set; closed cases as a bounded history, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlmodel import Session, col, select

from lims.models import PositiveCase, Sample, SamplingPoint, TestResult
from lims.models.cases import CasePublic
from lims.models.common import Role
from lims.services.access.auth import require_role
from lims.services.cases import procedure
from lims.services.core import clock
from lims.services.core.audit import Actor

# How many closed cases the history shows (the newest; older ones are in the archive and the API).
HISTORY = 20
# What each deadline is (the clocks of procedure.CaseClocks, with their sources there).
DEADLINES = ("sale_suspension", "retest_window", "referral", "disposal")


@dataclass(frozen=True)
class Deadline:
    """The next time a case's clock runs out: what runs out (a key of DEADLINES) and when (UTC)."""

    kind: str
    at: datetime

    def seconds_left(self, now: datetime) -> int:
        """Seconds until the deadline (negative once it has passed)."""
        return int((_aware(self.at) - _aware(now)).total_seconds())


@dataclass(frozen=True)
class CaseCard:
    """A case as the board shows it."""

    case: CasePublic
    product_name: str
    vendor: str
    stall: str
    deadline: Deadline | None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def next_deadline(case: PositiveCase, now: datetime) -> Deadline | None:
    """The earliest clock still running for an open case: the suspension of sale, the party's four-hour retest
    window, the laboratory's turnaround or the disposal; None for a closed case or one waiting for its notice."""
    if case.closed_at is not None:
        return None
    found: list[Deadline] = []
    clocks = procedure.CLOCKS
    if case.sale_suspended_at is None:
        found.append(Deadline("sale_suspension", _aware(case.opened_at) + clocks.sale_suspension_within))
    stage = procedure.stage(case, now)
    if stage == "awaiting_party" and case.retest_deadline is not None:
        found.append(Deadline("retest_window", _aware(case.retest_deadline)))
    elif stage == "referral" and case.referral_due is not None:
        found.append(Deadline("referral", _aware(case.referral_due)))
    elif stage == "disposal":
        since = procedure.disposal_from(case)
        if since is not None:
            found.append(Deadline("disposal", _aware(since) + clocks.disposal_within))
    return min(found, key=lambda d: d.at) if found else None


def _cards(session: Session, cases: list[PositiveCase]) -> list[CaseCard]:
    if not cases:
        return []
    now = clock.now()
    samples = {
        result_id: sample
        for result_id, sample in session.exec(
            select(TestResult.id, Sample)
            .join(Sample, col(Sample.id) == col(TestResult.sample_id))
            .where(col(TestResult.id).in_({c.result_id for c in cases}))
        ).all()
    }
    cards = []
    for case in cases:
        sample = samples[case.result_id]
        cards.append(
            CaseCard(
                procedure.public(session, case),
                sample.product_name,
                sample.vendor,
                sample.stall,
                next_deadline(case, now),
            )
        )
    return cards


def open_cards(session: Session, actor: Actor) -> list[CaseCard]:
    """The open cases the actor follows up, newest first."""
    return _cards(session, procedure.list_for(session, actor, open_only=True))


def history(session: Session, actor: Actor, limit: int = HISTORY) -> list[CaseCard]:
    """The actor's closed cases, the most recently closed first, at most `limit` of them."""
    require_role(actor, Role.REVIEWER, Role.STATION, Role.ADMIN, Role.TESTER)
    statement = select(PositiveCase).where(
        PositiveCase.district_id == actor.district_id, col(PositiveCase.closed_at).is_not(None)
    )
    if actor.role == Role.STATION:
        statement = statement.join(SamplingPoint).where(
            SamplingPoint.district_id == actor.district_id, SamplingPoint.station_id == actor.station_id
        )
    ordered = statement.order_by(col(PositiveCase.closed_at).desc(), col(PositiveCase.id).desc())
    return _cards(session, list(session.exec(ordered.limit(max(1, min(limit, HISTORY)))).all()))
