"""Shared column helpers and enumerations of the domain model."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (all stored times are UTC)."""
    return datetime.now(UTC)


def json_column(nullable: bool = True) -> Any:
    """A portable JSON column (JSON on PostgreSQL, TEXT-backed JSON on SQLite)."""
    return Column(JSON, nullable=nullable)


# Column info flag: the audit trail snapshots this column as a keyed fingerprint, never its value.
AUDIT_SECRET = "audit_secret"


def secret_field(**kwargs: Any) -> Any:
    """A column whose value must never be copied into audit events (password hashes, token secrets).

    Snapshots hold a keyed fingerprint instead, so an event still shows that the value changed and the
    verifier still sees the stored value being tampered with. Takes the arguments of `sqlmodel.Field`.
    """
    column_kwargs = dict(kwargs.pop("sa_column_kwargs", None) or {})
    column_kwargs["info"] = {**column_kwargs.get("info", {}), AUDIT_SECRET: True}
    return Field(sa_column_kwargs=column_kwargs, **kwargs)


class Role(StrEnum):
    """What a user may do."""

    TESTER = "tester"
    REVIEWER = "reviewer"
    STATION = "station"
    ADMIN = "admin"


class ResultStatus(StrEnum):
    """States of a test result in the closed loop (处理 → 审核 → 反馈 → 归档)."""

    TESTED = "tested"
    APPROVED = "approved"
    REJECTED = "rejected"
    PUBLISHED = "published"
    ARCHIVED = "archived"
    SUPERSEDED = "superseded"


class JudgementOutcome(StrEnum):
    """Screening outcome; a positive is 疑似阳性 until confirmed by a lab."""

    NEGATIVE = "negative"
    POSITIVE = "positive"
    INVALID = "invalid"


class ReviewAction(StrEnum):
    """What a reviewer may do to a result (see the transition table in services/results/workflow.py)."""

    APPROVE = "approve"
    REJECT = "reject"
    PUBLISH = "publish"
    ARCHIVE = "archive"


class Decision(StrEnum):
    """A reviewer's decision on a pending correction of a sample."""

    APPROVE = "approve"
    REJECT = "reject"


class CaseStep(StrEnum):
    """The steps a station records on a positive case, in the order they usually come."""

    NOTICE = "notice"
    SUSPEND = "suspend"
    SEAL = "seal"
    RETEST = "retest"
    ACCEPT = "accept"
    DISPOSAL = "disposal"


class CaseState(StrEnum):
    """What the public is told of a screening positive as its legal procedure runs (see cases.procedure)."""

    SCREENING_POSITIVE = "screening_positive"  # 初筛阳性: the party may still ask for a retest
    RETEST_IN_PROGRESS = "retest_in_progress"  # 复检中: a qualified lab is retesting or inspecting
    CONFIRMED = "confirmed"  # 确认不合格: the lab confirmed it
    CLEARED = "cleared"  # 复检排除: the lab did not confirm it
    NO_RETEST = "no_retest"  # 未申请复检: the party accepted the result or let the window pass


class Area(StrEnum):
    """Where a sampling point lies; decides the rapid-response time (20 / 40 minutes)."""

    URBAN = "urban"
    RURAL = "rural"
