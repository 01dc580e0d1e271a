"""The use case "review this result": find it as the reviewer may see it, then move it through the workflow."""

from __future__ import annotations

from sqlmodel import Session

from lims.i18n import _N
from lims.models import TestResult
from lims.services.access.auth import require_role
from lims.services.core.audit import Actor
from lims.services.core.errors import Invalid
from lims.services.results import records, workflow


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
