"""Offline sign-in on a vehicle node: testers sign in from the node's copy of their accounts, for a bounded time.

The node pulls its district's accounts from the centre with their argon2 password verifiers (never a
password) and whether they may sign in (`lims.services.sync.pull`). Sign-in on the node is the ordinary one
(`auth.sign_in`: throttled, bounded hashing) plus `refuse_unusable` once the password is right: only testers
sign in on a vehicle, an account disabled as of the last pull is refused, and the whole copy may be used for
`LIMS_NODE_CREDENTIAL_DAYS` after the node last heard from the centre (its last pull, or its enrolment).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session, select

from lims.i18n import _N
from lims.models import NodeIdentity, User
from lims.models.common import Role
from lims.services.core import clock
from lims.services.core.errors import Unauthorized
from lims.settings import get_settings

ON_A_VEHICLE = frozenset({Role.TESTER.value})  # reviews, publication and accounts are the centre's work


def copy_expires_at(session: Session) -> datetime | None:
    """Until when the node's copy of the accounts may sign testers in; None before enrolment."""
    identity = session.exec(select(NodeIdentity)).first()
    if identity is None:
        return None
    confirmed = max(identity.last_pull or identity.enrolled_at, identity.enrolled_at)
    return confirmed + timedelta(days=get_settings().node_credential_days)


def refuse_unusable(session: Session, user: User) -> None:
    """On the node, once the password is right: Unauthorized with the reason when the copy may not sign in."""
    if not user.active:
        raise Unauthorized(
            "auth.node_account_disabled",
            _N("this account is disabled (as of this vehicle's last update from the centre)"),
        )
    if user.role not in ON_A_VEHICLE:
        raise Unauthorized(
            "auth.node_not_cached",
            _N("this account may not sign in on this vehicle; sign in at the centre or ask an administrator"),
        )
    until = copy_expires_at(session)
    if until is None or until <= clock.now():
        raise Unauthorized(
            "auth.node_copy_expired",
            _N("the sign-in kept on this vehicle expired on {day}; connect the vehicle to the centre to renew it"),
            day=clock.local_date(until or clock.now()),
        )
