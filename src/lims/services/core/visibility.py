"""The one rule of who sees a result outside the lab: it is public once published, and stays so when archived."""

from __future__ import annotations

from typing import Any

from sqlmodel import col

from lims.models import TestResult
from lims.models.common import ResultStatus

PUBLIC_STATUSES: frozenset[ResultStatus] = frozenset({ResultStatus.PUBLISHED, ResultStatus.ARCHIVED})
# What the lab's own statistics count: approved by a reviewer, whether or not yet released.
REVIEWED_STATUSES: frozenset[ResultStatus] = PUBLIC_STATUSES | {ResultStatus.APPROVED}


def is_public(status: str) -> bool:
    """Whether a result in `status` may be shown to stations and the public."""
    return status in PUBLIC_STATUSES


def public_only() -> Any:
    """The SQL condition that keeps only public results."""
    return col(TestResult.status).in_(sorted(s.value for s in PUBLIC_STATUSES))


def reviewed_only() -> Any:
    """The SQL condition that keeps only results a reviewer has approved (public or not yet)."""
    return col(TestResult.status).in_(sorted(s.value for s in REVIEWED_STATUSES))
