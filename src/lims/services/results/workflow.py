"""The closed loop (受理 → 处理 → 审核 → 反馈 → 归档) as one state machine over test results."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlmodel import Session

from lims.i18n import _N, terms
from lims.models import Review, TestResult
from lims.models.common import JudgementOutcome, ResultStatus, ReviewAction, Role
from lims.services.access.auth import require_role
from lims.services.cases import procedure
from lims.services.core import atomic, audit, clock
from lims.services.core.audit import Actor
from lims.services.core.errors import Conflict, Forbidden, Invalid
from lims.services.lab import qc
from lims.services.samples import sampling
from lims.services.sharing import outbox


@dataclass(frozen=True)
class Transition:
    """One allowed move: from which states, to which state, by which roles, and what it means."""

    sources: frozenset[ResultStatus]
    target: ResultStatus
    roles: frozenset[Role]
    meaning: str
    four_eyes: bool = False
    needs_reason: bool = False


S = ResultStatus
TRANSITIONS: dict[str, Transition] = {
    "approve": Transition(
        frozenset({S.TESTED}),
        S.APPROVED,
        frozenset({Role.REVIEWER}),
        "I checked the raw data and agree with the judgement",
        four_eyes=True,
    ),
    "reject": Transition(
        frozenset({S.TESTED}),
        S.REJECTED,
        frozenset({Role.REVIEWER}),
        "I do not accept this result; the sample must be retested",
        four_eyes=True,
        needs_reason=True,
    ),
    "publish": Transition(
        frozenset({S.APPROVED}),
        S.PUBLISHED,
        frozenset({Role.REVIEWER}),
        "I release this result to stations and the public",
        four_eyes=True,
    ),
    "archive": Transition(
        frozenset({S.PUBLISHED}),
        S.ARCHIVED,
        frozenset({Role.REVIEWER}),
        "feedback is complete; the record is closed",
        four_eyes=True,
    ),
    "supersede": Transition(
        frozenset({S.TESTED}),
        S.SUPERSEDED,
        frozenset({Role.TESTER}),
        "replaced by a corrected version",
        needs_reason=True,
    ),
}
# What a person is told when a transition that needs a reason comes without one.
NEEDS_REASON = {"reject": _N("a rejection needs a reason"), "supersede": _N("a correction needs a reason")}
# Transitions a reviewer signs; `supersede` happens through a correction.
REVIEW_ACTIONS: tuple[str, ...] = tuple(ReviewAction)
# Moves a quality-control hold refuses (rejecting a held result, with a reason, stays open: it invalidates it).
QC_GUARDED = frozenset({"approve", "publish"})


def signed_hash(state: dict[str, object]) -> str:
    """SHA-256 of a result's state as the reviewer saw it."""
    return hashlib.sha256(audit.canonical(state).encode()).hexdigest()


def transition(
    session: Session,
    actor: Actor,
    result: TestResult,
    action: str,
    *,
    reason: str = "",
    acknowledge_flags: bool = False,
) -> TestResult:
    """Move `result` by `action`, or raise Forbidden / Conflict / Invalid with the reason."""
    rule = TRANSITIONS.get(action)
    if rule is None:
        raise Invalid("workflow.unknown_action", _N("unknown action {action!r}"), action=action)
    require_role(actor, *rule.roles)
    if rule.four_eyes and actor.user_id == result.tester_id:
        raise Forbidden("workflow.four_eyes_rule_tester", _N("four-eyes rule: the tester of a result cannot review it"))
    if result.district_id != actor.district_id:
        raise Forbidden("workflow.result_belongs_another_district", _N("this result belongs to another district"))
    if result.status not in rule.sources:
        raise Conflict(
            "workflow.cannot_result_only_from",
            _N("cannot {action} a result that is {result_status}; only from: {allowed}"),
            action=terms.action(action),
            result_status=terms.status(result.status),
            allowed=terms.status(*sorted(s.value for s in rule.sources)),
        )
    if rule.needs_reason and len(reason.strip()) < 3:
        message = NEEDS_REASON.get(action, _N("{action} needs a reason"))
        raise Invalid("workflow.needs_reason", message, action=terms.action(action))
    if action == "approve" and result.repeat_state == "pending":
        raise Conflict(
            "workflow.repeat_required",
            _N(
                "result {result_id} is a positive its method asks to repeat ({source}): {done} of {required} "
                "repeats done; test the same sample for the same item again before it can be approved"
            ),
            result_id=result.id,
            source=result.reason_params.get("source", ""),
            done=result.reason_params.get("done", 0),
            required=result.repeats_required,
        )
    if action in QC_GUARDED:
        qc.require_released(session, result, action)  # a failed or missing control of its lot and day holds it
    if action == "publish":
        qc.refuse_publishing_blind(session, result)
    if action == "approve" and result.flags and not acknowledge_flags:
        raise Conflict(
            "workflow.result_carries_flags_acknowledge",
            _N("result carries flags {flags}; acknowledge them to approve"),
            flags=", ".join(result.flags),
        )
    before = audit.snapshot(result)
    now = clock.now()
    values: dict[str, object] = {"status": rule.target}
    if rule.target == S.PUBLISHED:
        values["published_at"] = now
        sampling.hold_for_publication(session, result.sample_id)
    # A conditional update: of two reviewers acting at once, exactly one moves the result.
    if not atomic.update_where(session, result, {"status": result.status}, values):
        session.rollback()
        raise Conflict(
            "workflow.result_was_changed_someone",
            _N("result {result_id} was changed by someone else; reload and try again"),
            result_id=result.id,
        )
    audit.record(session, actor, result, action, before)
    if rule.target == S.PUBLISHED:
        outbox.result_published(session, result, procedure.state_of_result(session, int(result.id or 0), now))
    if action in REVIEW_ACTIONS:
        review = Review(
            result_id=int(result.id or 0),
            reviewer_id=int(actor.user_id or 0),
            action=action,
            meaning=rule.meaning,
            reason=reason,
            acknowledged_flags=list(result.flags) if acknowledge_flags else [],
            signed_hash=signed_hash(before),
            at=now,
        )
        session.add(review)
        audit.record(session, actor, review, "sign", None)
    if action in {"approve", "reject"}:
        qc.score_blind(session, actor, result)  # a proficiency sample's result is scored when it is reviewed
    if action == "approve" and result.judgement == JudgementOutcome.POSITIVE:
        procedure.open_case(session, actor, result)
    return result
