"""Reports and complaints consumers send from a product or sample page: leads in a district's queue."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlmodel import Field, SQLModel

from lims.models.common import utcnow

# What a consumer may write: a few sentences, a shop's name and address, a phone number or e-mail.
MAX_WHAT = 1000
MAX_WHERE = 200
MAX_CONTACT = 100
MAX_NOTE = 500


class LeadStatus(StrEnum):
    """Where a lead stands in the station's queue."""

    OPEN = "open"
    HANDLED = "handled"


class LeadKind(StrEnum):
    """What the consumer wants: to tell the station about a product, or to lodge a complaint with 12315."""

    REPORT = "report"  # 举报线索
    COMPLAINT = "complaint"  # 投诉


class ConsumerLead(SQLModel, table=True):
    """One report or complaint about a product or sample, queued for the district's stations."""

    __tablename__ = "consumer_lead"
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    kind: str = Field(default=LeadKind.REPORT, max_length=12, description="report | complaint")
    code: str = Field(max_length=64, description="the code of the page it was sent from (GTIN or label id)")
    gtin: str | None = Field(default=None, max_length=14)
    sample_label_id: str | None = Field(default=None, max_length=16)
    what_happened: str = Field(max_length=MAX_WHAT)
    where_bought: str = Field(default="", max_length=MAX_WHERE)
    contact: str = Field(default="", max_length=MAX_CONTACT)
    photo_sha256: str | None = Field(default=None, max_length=64, description="its bytes in file_content")
    photo_type: str = Field(default="", max_length=40)
    received_at: datetime = Field(default_factory=utcnow)
    status: str = Field(default=LeadStatus.OPEN, max_length=12, index=True)
    handled_at: datetime | None = None
    handled_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    handled_note: str = Field(default="", max_length=MAX_NOTE)
