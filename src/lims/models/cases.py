"""Positive-result cases (retest, referral, disposal) and public consumption-safety warnings."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import Column, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from lims.models.bounds import MAX_QUANTITY, SaneMoment
from lims.models.common import json_column, utcnow


class Procedure(StrEnum):
    """Which legal procedure a screening positive follows (chosen by the food category when the case opens)."""

    # Food Safety Law art. 88 para. 2: an edible agricultural product tested by a quick method; the party may
    # ask for a retest within four hours of receiving the result, and the retest may not use a quick method.
    RETEST = "art88_retest"
    # Food Safety Law art. 112 para. 2: a processed food whose quick test suggests non-compliance is inspected
    # by a qualified lab under art. 87; no four-hour window, the case is referred at once.
    INSPECTION = "art112_inspection"


class NoticeDelivery(StrEnum):
    """How the results notice (快速检测结果告知书) reached the tested party."""

    IN_PERSON = "in_person"  # 当场送达
    LEFT = "left_at_premises"  # 留置送达
    ELECTRONIC = "electronic"  # 电子送达
    POSTAL = "postal"  # 邮寄送达


class DisposalKind(StrEnum):
    """What was done with the suspect goods."""

    SUSPEND_SALE = "suspend_sale"  # 暂停销售
    REMOVAL = "removal"  # 下架
    SEAL = "seal"  # 封存
    RETURN_RECALL = "return_recall"  # 退货/召回
    DESTRUCTION = "destruction"  # 销毁
    HARMLESS = "harmless_treatment"  # 无害化处理


class FilePurpose(StrEnum):
    """What a file attached to a case is."""

    LAB_REPORT = "lab_report"
    DISPOSAL_PHOTO = "disposal_photo"


class PositiveCase(SQLModel, table=True):
    """Follow-up of an approved positive: notice, 4-hour retest window, referral, disposal."""

    __tablename__ = "positive_case"
    id: int | None = Field(default=None, primary_key=True)
    result_id: int = Field(foreign_key="test_result.id", unique=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    point_id: int = Field(foreign_key="sampling_point.id", index=True)
    opened_at: datetime = Field(default_factory=utcnow)
    procedure: str = Field(default=Procedure.RETEST, max_length=24, description="art88_retest | art112_inspection")
    # The results notice: when the party received it (the four hours run from then), how, and who took it.
    notified_at: datetime | None = None
    retest_deadline: datetime | None = None
    notice_delivery: str | None = Field(default=None, max_length=24)
    notice_recipient: str = Field(default="", max_length=100)
    notice_recipient_role: str = Field(default="", max_length=100)
    notice_late: bool = False
    notice_recorded_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    # 暂停销售 at the stall: when, who confirmed it there, who recorded it.
    sale_suspended_at: datetime | None = None
    sale_suspension_confirmed_by: str = Field(default="", max_length=100)
    sale_suspension_recorded_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    referred_at: datetime | None = None
    retest_requested_at: datetime | None = None
    retest_seal_number: str = Field(default="", max_length=32)
    referral_lab: str = ""
    referral_due: datetime | None = None
    referral_outcome: str | None = Field(default=None, description="confirmed | not_confirmed")
    referral_outcome_at: datetime | None = None
    # The lab's verdict, recorded by a reviewer of the district.
    verdict_lab: str = Field(default="", max_length=200)
    verdict_cma: str = Field(default="", max_length=12)
    verdict_report_number: str = Field(default="", max_length=64)
    verdict_method: str = Field(default="", max_length=200)
    verdict_analyte: str = Field(default="", max_length=100)
    verdict_value: float | None = None
    verdict_unit: str = Field(default="", max_length=16)
    verdict_limit: str = Field(default="", max_length=100)
    verdict_clause: str = Field(default="", max_length=200)
    verdict_report_id: int | None = Field(default=None, description="the case_file of the lab report")
    verdict_recorded_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    party_accepted_at: datetime | None = None
    disposal_action: str | None = Field(default=None, max_length=24, description="a DisposalKind")
    disposal_quantity: float | None = None
    disposal_unit: str = ""
    disposal_note: str = Field(default="", max_length=500)
    disposal_officer: str = Field(default="", max_length=100)
    disposal_witness: str = Field(default="", max_length=100)
    disposal_acknowledged_by: str = Field(default="", max_length=100)
    disposal_supplier: str = Field(default="", max_length=200)
    disposal_purchase_record: str = Field(default="", max_length=200)
    disposal_at: datetime | None = None
    closed_at: datetime | None = None
    status: str = Field(default="open", index=True)
    photo_count: int = Field(default=0, sa_column_kwargs={"server_default": "0"}, description="photos attached")


class CaseFile(SQLModel, table=True):
    """A file attached to a case (a lab report, a disposal photo): its SHA-256, size and type, audited."""

    __tablename__ = "case_file"
    id: int | None = Field(default=None, primary_key=True)
    case_id: int = Field(foreign_key="positive_case.id", index=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    purpose: str = Field(max_length=24)
    content_type: str = Field(max_length=40)
    size: int
    sha256: str = Field(max_length=64, index=True)
    uploaded_at: datetime = Field(default_factory=utcnow)
    uploaded_by_id: int = Field(foreign_key="app_user.id")


class FileContent(SQLModel, table=True):
    """The bytes of attached files, by their SHA-256 (the audited `case_file` row names the digest)."""

    __tablename__ = "file_content"
    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64, unique=True)
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class NoticeReceipt(SQLModel):
    """How and when the results notice reached the party, and who received it."""

    delivery: NoticeDelivery
    received_at: SaneMoment | None = Field(default=None, description="when the party received it; now if omitted")
    recipient: str = Field(min_length=1, max_length=100)
    recipient_role: str = Field(min_length=1, max_length=100)


class SaleSuspension(SQLModel):
    """暂停销售 at the stall, confirmed there by someone of the stall."""

    confirmed_by: str = Field(min_length=1, max_length=100)


class SealNumber(SQLModel):
    """The number of the seal on the retained sample (备样封条号)."""

    seal_number: str = Field(min_length=1, max_length=32)


class RetestRequest(SQLModel):
    """The tested party asks for a retest at a qualified lab (Food Safety Law art. 88), naming the sealed sample."""

    lab: str = Field(min_length=2, max_length=200)
    seal_number: str = Field(default="", max_length=32)


class LabVerdict(SQLModel):
    """The qualified lab's verdict as its report states it."""

    lab: str = Field(min_length=2, max_length=200)
    cma: str = Field(max_length=12, description="the lab's CMA accreditation certificate number (12 digits)")
    report_number: str = Field(min_length=1, max_length=64)
    method: str = Field(min_length=2, max_length=200)
    analyte: str = Field(min_length=1, max_length=100)
    value: float = Field(ge=0, le=MAX_QUANTITY)
    unit: str = Field(min_length=1, max_length=16)
    limit: str = Field(min_length=1, max_length=100, description="the limit judged against, e.g. ≤ 30 mg/kg")
    clause: str = Field(min_length=2, max_length=200, description="standard and clause of the limit")
    outcome: Literal["confirmed", "not_confirmed"]


class Disposal(SQLModel):
    """What was done with the suspect goods, with the quantity (0 when sold out: say so in the note)."""

    action: DisposalKind
    quantity: float = Field(ge=0, le=MAX_QUANTITY)
    unit: str = Field(default="kg", min_length=1, max_length=16)
    note: str = Field(default="", max_length=500)
    officer: str = Field(default="", max_length=100, description="the supervising officer")
    witness: str = Field(default="", max_length=100)
    acknowledged_by: str = Field(default="", max_length=100, description="the operator who acknowledged it")
    supplier: str = Field(default="", max_length=200, description="the supplier to trace; the sample's if empty")
    purchase_record: str = Field(default="", max_length=200, description="进货凭证: invoice or delivery note")


class CasePublic(SQLModel):
    """A case as stations and reviewers see it, with its clocks."""

    id: int
    result_id: int
    sample_label_id: str
    item_code: str
    point_code: str
    status: str
    stage: str
    state: str
    overdue: bool
    procedure: str
    seal_number: str
    opened_at: datetime
    notified_at: datetime | None
    retest_deadline: datetime | None
    notice_delivery: str | None
    notice_recipient: str
    notice_recipient_role: str
    notice_late: bool
    sale_suspended_at: datetime | None
    sale_suspension_confirmed_by: str
    sale_suspension_missing: bool
    sale_suspension_overdue: bool
    referred_at: datetime | None
    retest_requested_at: datetime | None
    retest_seal_number: str
    referral_lab: str
    referral_due: datetime | None
    referral_outcome: str | None
    verdict_lab: str
    verdict_cma: str
    verdict_report_number: str
    verdict_method: str
    verdict_analyte: str
    verdict_value: float | None
    verdict_unit: str
    verdict_limit: str
    verdict_clause: str
    verdict_report_id: int | None
    party_accepted_at: datetime | None
    disposal_action: str | None
    disposal_quantity: float | None
    disposal_unit: str
    disposal_note: str
    disposal_officer: str
    disposal_witness: str
    disposal_acknowledged_by: str
    disposal_supplier: str
    disposal_purchase_record: str
    photo_ids: list[int] = []
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


class WarningState(StrEnum):
    """Where a warning stands: a draft only reviewers see, published to everyone, or a draft set aside."""

    DRAFT = "draft"
    PUBLISHED = "published"
    DISCARDED = "discarded"


class WarningDraftBase(SQLModel):
    """What a drafted warning names, in the words the public reads (Chinese first); the body is made from it."""

    product: str = Field(default="", max_length=200, description="The product the warning is about")
    finding: str = Field(default="", max_length=1000, description="What the tests found")
    source: str = Field(default="", max_length=500, description="Where the finding comes from (whose tests, where)")
    advice: str = Field(default="", max_length=1000, description="What consumers should do")


class PublicWarning(WarningBase, WarningDraftBase, table=True):
    """A warning row: a draft until a reviewer publishes it, then numbered in its district's yearly sequence."""

    __tablename__ = "public_warning"
    __table_args__ = (UniqueConstraint("district_id", "year", "sequence"),)
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id", index=True)
    state: str = Field(
        default=WarningState.PUBLISHED, max_length=16, index=True, sa_column_kwargs={"server_default": "published"}
    )
    # 2026年第3期: the district's local year of publication and the warning's place in that year's sequence.
    year: int | None = None
    sequence: int | None = None
    revision: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    drafted_at: datetime | None = None
    drafted_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    point_id: int | None = Field(default=None, foreign_key="sampling_point.id")
    # The figures of the signal a draft was made from, as they stood then.
    signal: dict[str, Any] | None = Field(default=None, sa_column=json_column(nullable=True))
    published_at: datetime | None = Field(default=None, index=True)
    published_by_id: int | None = Field(default=None, foreign_key="app_user.id")
    withdrawn_at: datetime | None = None
    withdrawn_reason: str | None = Field(default=None, max_length=500)


class WarningCounter(SQLModel, table=True):
    """The last number given to a district's published warnings in one local year (numbering state)."""

    __tablename__ = "warning_counter"
    __table_args__ = (UniqueConstraint("district_id", "year"),)
    id: int | None = Field(default=None, primary_key=True)
    district_id: int = Field(foreign_key="district.id")
    year: int
    last: int = 0


class WarningDraftEdit(WarningDraftBase):
    """A reviewer's edit of a draft: the texts, what it is about, and the revision the reviewer edited."""

    title_zh: str = Field(min_length=2, max_length=200)
    title_en: str = Field(default="", max_length=200)
    product: str = Field(min_length=1, max_length=200)
    finding: str = Field(min_length=2, max_length=1000)
    source: str = Field(min_length=2, max_length=500)
    advice: str = Field(min_length=2, max_length=1000)
    item_code: str | None = Field(default=None, max_length=16)
    category_code: str | None = Field(default=None, max_length=32)
    gtin: str | None = Field(default=None, max_length=14)
    expires_at: SaneMoment | None = None
    revision: int = Field(ge=1, le=1_000_000, description="The revision the edit was made on")


class WarningDraftAct(SQLModel):
    """Publishing or discarding a draft names the revision the reviewer read."""

    revision: int = Field(ge=1, le=1_000_000)


class WarningWithdraw(SQLModel):
    """Why a warning is withdrawn (the product was cleared, the lot recalled and destroyed, an error)."""

    reason: str = Field(min_length=2, max_length=500)


class WarningPublic(WarningBase):
    """A warning as the public sees it."""

    id: int
    expires_at: datetime | None = None  # what is stored, unvalidated: output never fails on an old row
    published_at: datetime | None
    year: int | None = None
    sequence: int | None = None
    withdrawn_at: datetime | None = None
    withdrawn_reason: str | None = None


class WarningDraftPublic(WarningPublic, WarningDraftBase):
    """A warning as reviewers see it, draft or not: its state, revision and the signal it was drafted from."""

    state: str
    revision: int
    drafted_at: datetime | None = None
    point_id: int | None = None
    signal: dict[str, Any] | None = None
