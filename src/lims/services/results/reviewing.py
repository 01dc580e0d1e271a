"""The use cases "review this result" and "review these results": find them as the reviewer may see them, then
move them through the workflow; the reviewer's queue with its filters."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, cast, func
from sqlmodel import Session, col, select

from lims.i18n import _N
from lims.models import Sample, TestItem, TestResult
from lims.models.common import JudgementOutcome, ResultStatus, Role
from lims.services.access import districts
from lims.services.access.auth import require_role
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, Forbidden, Invalid, NotFound, ServiceError
from lims.services.results import records, workflow

# A batch is what one page of the queue can show and a reviewer can check in one go. A page of the queue holds
# 10 results with their raw data (the page stays under 40 KB); the ones approved leave it and the next move up.
MAX_BATCH = 100
QUEUE_PAGE = 10
# The actions a reviewer may take on several results at once (rejecting needs a reason per result).
BATCH_ACTIONS = ("approve", "publish")
# Flag filters besides a single flag's code: any flag, or none.
FLAGGED, CLEAN = "flagged", "clean"

# Why a result of a batch was skipped: the kind, and what it means to the reviewer (message ids).
SKIP_TEXT: dict[str, str] = {
    "flags": _N("its flags were not acknowledged"),
    "conflict": _N("someone else changed it first, or it is no longer in this state"),
    "four_eyes": _N("you tested it; someone else reviews it"),
    "repeat": _N("its positive must be repeated first"),
    "qc_hold": _N("the quality control of its kit lot that day holds it"),
    "missing": _N("not found"),
    "refused": _N("refused"),
}


def act(
    session: Session, actor: Actor, result_id: int, action: str, *, reason: str = "", acknowledge_flags: bool = False
) -> TestResult:
    """Check the actor's role for `action`, then find the result and move it."""
    rule = workflow.TRANSITIONS.get(action)
    if rule is None or action not in workflow.REVIEW_ACTIONS:
        raise Invalid("reviewing.unknown_action", _N("unknown action {action!r}"), action=action)
    require_role(actor, *rule.roles)
    result = records.get_for(session, actor, result_id)
    return workflow.transition(session, actor, result, action, reason=reason, acknowledge_flags=acknowledge_flags)


@dataclass(frozen=True)
class Skipped:
    """A result of a batch that was not moved, and why (a key of SKIP_TEXT)."""

    result_id: int
    kind: str


@dataclass
class BatchOutcome:
    """What a batch did: the results moved and the ones skipped."""

    action: str
    done: list[int] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _skip_kind(exc: ServiceError) -> str:
    if exc.code == "workflow.result_carries_flags_acknowledge":
        return "flags"
    if exc.code == "workflow.repeat_required":
        return "repeat"
    if exc.code == "workflow.four_eyes_rule_tester":
        return "four_eyes"
    if exc.code in {"qc.control_failed", "qc.control_missing"}:
        return "qc_hold"
    if isinstance(exc, NotFound):
        return "missing"
    if isinstance(exc, Conflict):
        return "conflict"
    if isinstance(exc, Forbidden):
        return "refused"
    return "refused"


def act_many(
    session: Session, actor: Actor, action: str, result_ids: list[int], acknowledged: set[int] | frozenset[int]
) -> BatchOutcome:
    """Approve or publish each of `result_ids`, each as its own conditional update committed on its own.

    A result that carries flags is approved only when its own id is in `acknowledged`; one that someone
    else changed first, or that the rules refuse, is skipped and reported, and the others still go through."""
    if action not in BATCH_ACTIONS:
        raise Invalid("reviewing.batch_action", _N("only approve and publish can be done for several results"))
    require_role(actor, Role.REVIEWER)
    ids = list(dict.fromkeys(result_ids))
    if not ids:
        raise Invalid("reviewing.batch_empty", _N("select at least one result"))
    if len(ids) > MAX_BATCH:
        raise Invalid(
            "reviewing.batch_too_large",
            _N("at most {limit} results at once; {count} were selected"),
            limit=MAX_BATCH,
            count=len(ids),
        )
    outcome = BatchOutcome(action)
    for result_id in ids:
        try:
            act(session, actor, result_id, action, acknowledge_flags=result_id in acknowledged)
            session.commit()
        except ServiceError as exc:
            session.rollback()
            outcome.skipped.append(Skipped(result_id, _skip_kind(exc)))
        else:
            outcome.done.append(result_id)
    return outcome


@dataclass(frozen=True)
class QueueFilter:
    """What the reviewer narrows the queue to: test item, sampling point, judgement and flags."""

    item: str = ""
    point: str = ""
    judgement: str = ""
    flags: str = ""  # FLAGGED, CLEAN or one flag's code


def _filtered(session: Session, actor: Actor, status: ResultStatus, f: QueueFilter) -> Any:
    statement: Any = select(TestResult).where(
        col(TestResult.repeat_of_id).is_(None),
        col(TestResult.district_id) == actor.district_id,
        col(TestResult.status) == status,
    )
    if f.judgement:
        if f.judgement not in {j.value for j in JudgementOutcome}:
            raise Invalid(
                "records.unknown_judgement_use_negative",
                _N("unknown judgement {judgement!r}; use negative, positive or invalid"),
                judgement=f.judgement,
            )
        statement = statement.where(col(TestResult.judgement) == f.judgement)
    if f.item:
        item = session.exec(select(TestItem).where(TestItem.code == f.item)).first()
        if item is None:
            raise Invalid("reviewing.unknown_item", _N("unknown test item {code!r}"), code=f.item)
        statement = statement.where(col(TestResult.item_id) == item.id)
    if f.point:
        point = districts.require_point(session, actor, f.point)
        statement = statement.join(Sample, col(Sample.id) == col(TestResult.sample_id)).where(
            col(Sample.point_id) == point.id
        )
    if f.flags:
        stored = cast(col(TestResult.flags), String)  # the JSON list as text, "[]" when there is none
        if f.flags == CLEAN:
            statement = statement.where(stored == "[]")
        elif f.flags == FLAGGED:
            statement = statement.where(stored != "[]")
        elif f.flags in records.FLAG_TEXT:
            statement = statement.where(stored.like(f'%"{f.flags}"%'))
        else:
            raise Invalid("reviewing.unknown_flag", _N("unknown flag filter {flags!r}"), flags=f.flags)
    return statement


def queue(
    session: Session,
    actor: Actor,
    status: ResultStatus,
    f: QueueFilter,
    *,
    limit: int = QUEUE_PAGE,
    offset: int = 0,
) -> tuple[list[TestResult], int]:
    """One page of the district's results in `status` matching `f`, oldest first (the order they came in),
    and how many match in all."""
    require_role(actor, Role.REVIEWER, Role.ADMIN)
    statement = _filtered(session, actor, status, f)
    total = int(session.exec(select(func.count()).select_from(statement.subquery())).one())
    page = statement.order_by(col(TestResult.id)).offset(max(offset, 0)).limit(min(max(limit, 1), MAX_BATCH))
    return list(session.exec(page).all()), total
