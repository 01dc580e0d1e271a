"""Positive-result cases (retest, referral, disposal) and public consumption-safety warnings."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlmodel import Field, SQLModel

from lims.models.bounds import MAX_QUANTITY, SaneMoment
from lims.models.common import utcnow


class PositiveCase(SQLModel, table=True):
    """Follow-up of an approved positive: notice, 4-hour retest window, referral, disposal."""

    __tablename__ = "positive_case"
    id: int | None = Field(default=None, primary_key=True)
    result_id: int = Field(foreign_key="test_result.id", unique=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    point_id: int = Field(foreign_key="sampling_point.id", index=True)
    opened_at: datetime = Field(default_factory=utcnow)
    notified_at: datetime
    retest_deadline: datetime
    retest_requested_at: datetime | None = None
    referral_lab: str = ""
    referral_due: datetime | None = None
    referral_outcome: str | None = Field(default=None, description="confirmed | not_confirmed")
    referral_outcome_at: datetime | None = None
    party_accepted_at: datetime | None = None
    disposal_action: str | None = Field(default=None, description="removal (下架) | destruction (销毁)")
    disposal_quantity: float | None = None
    disposal_unit: str = ""
    disposal_at: datetime | None = None
    closed_at: datetime | None = None
    status: str = Field(default="open", index=True)


class RetestRequest(SQLModel):
    """The tested party asks for a retest at a qualified lab (Food Safety Law art. 88)."""

    lab: str = Field(min_length=2, max_length=200)


class ReferralOutcome(SQLModel):
    """The qualified lab's finding."""

    outcome: Literal["confirmed", "not_confirmed"]


class Disposal(SQLModel):
    """Removal from sale (下架) or destruction (销毁) of the suspect goods."""

    action: Literal["removal", "destruction"]
    quantity: float = Field(gt=0, le=MAX_QUANTITY)
    unit: str = Field(default="kg", min_length=1, max_length=16)


class CasePublic(SQLModel):
    """A case as stations and reviewers see it, with its clocks."""

    id: int
    result_id: int
    sample_label_id: str
    item_code: str
    point_code: str
    status: str
    stage: str
    overdue: bool
    notified_at: datetime
    retest_deadline: datetime
    retest_requested_at: datetime | None
    referral_lab: str
    referral_due: datetime | None
    referral_outcome: str | None
    party_accepted_at: datetime | None
    disposal_action: str | None
    disposal_quantity: float | None
    disposal_unit: str
    closed_at: datetime | None


class WarningBase(SQLModel):
    """A consumption-safety warning (消费警示) published to the public."""

    title_zh: str = Field(min_length=2, max_length=200)
    title_en: str = Field(default="", max_length=200)
    body_zh: str = Field(min_length=2, max_length=4000)
    body_en: str = Field(default="", max_length=4000)
    item_code: str | None = Field(default=None, max_length=16)
    category_code: str | None = Field(default=None, max_length=32)
    gtin: str | None = Field(default=None, max_length=14)
    expires_at: SaneMoment | None = None


class PublicWarning(WarningBase, table=True):
    """A warning row."""

    __tablename__ = "public_warning"
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    published_at: datetime = Field(default_factory=utcnow, index=True)
    published_by_id: int = Field(foreign_key="app_user.id")
    withdrawn_at: datetime | None = None
    withdrawn_reason: str | None = Field(default=None, max_length=500)


class WarningWithdraw(SQLModel):
    """Why a warning is withdrawn (the product was cleared, the lot recalled and destroyed, an error)."""

    reason: str = Field(min_length=2, max_length=500)


class WarningPublic(WarningBase):
    """A warning as the public sees it."""

    id: int
    expires_at: datetime | None = None  # what is stored, unvalidated: output never fails on an old row
    published_at: datetime
    withdrawn_at: datetime | None = None
    withdrawn_reason: str | None = None
