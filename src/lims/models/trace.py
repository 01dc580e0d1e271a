"""What a consumer sees for a code: the sample or product, its published results, active warnings."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from lims.i18n import _N, render

# What every trace answer reminds its reader of; the JSON carries it in both languages.
NOTICE = _N("Quick tests are screening tests: a suspected positive must be confirmed by a qualified laboratory.")
# What every trace answer (and so every printed copy of the consumer's page) says it is not.
NOT_OFFICIAL = _N(
    "This is a quick-test (rapid screening) result. It is not the report of an official food sampling "
    "inspection and cannot stand in for one; only a qualified laboratory's inspection decides whether the "
    "food complies."
)


class TracedResult(SQLModel):
    """One published quick-test result in plain terms."""

    sample_label_id: str
    product_name: str = ""  # as the sample was registered
    item_code: str
    item_name_zh: str
    item_name_en: str
    judgement: str
    meaning_zh: str
    meaning_en: str
    value: float | None
    reported_value: str | None = None  # the value as the method reports it (GB/T 8170 rounding)
    unit: str
    limit: float | None
    limit_unit: str
    limit_source: str
    method_standard: str
    point_name: str
    point_name_en: str
    batch: str = ""
    tested_at: datetime
    published_at: datetime | None
    # Every public result is a screening: it says so, with the detection limit it was judged with.
    screening: bool = True
    detection_limit: float | None = None
    detection_limit_unit: str = ""
    screening_zh: str = ""
    screening_en: str = ""
    # For a positive, where its legal procedure stands (lims.models.common.CaseState), named and explained.
    case_state: str | None = None
    case_state_zh: str = ""
    case_state_en: str = ""
    case_meaning_zh: str = ""
    case_meaning_en: str = ""


class TracedSample(SQLModel):
    """The sample a label id names."""

    label_id: str
    product_name: str
    brand: str
    gtin: str | None
    batch: str
    category_code: str
    point_name: str
    point_name_en: str
    collected_at: datetime


class TracedWarning(SQLModel):
    """An active warning relevant to the code."""

    id: int
    title_zh: str
    title_en: str
    published_at: datetime | None


class TracedProduct(SQLModel):
    """The registered product behind a GTIN."""

    gtin: str
    name: str
    brand: str
    brand_owner: str
    company: str
    quantity: str
    category: str
    country: str
    origin: str


class TracedMark(SQLModel):
    """A registered trademark relevant to the product."""

    registration_no: str
    mark: str
    owner: str
    status: str
    valid_to: date | None


class Finding(SQLModel):
    """One authenticity finding (鉴别结论) with its severity: ok, info, warning or critical."""

    code: str
    severity: str
    message_zh: str
    message_en: str
    # The names quoted in the message (a mark, an owner, a product): data, the same in either language.
    data: list[str] = []


class TraceRecord(SQLModel):
    """The answer to GET /api/v1/trace/{code}."""

    code: str
    kind: str
    gtin: str | None = None
    lot: str | None = None
    sample: TracedSample | None = None
    product: TracedProduct | None = None
    trademarks: list[TracedMark] = []
    # Registered marks that read or look like the package's mark but are not the product's own (康帅傅 on a
    # 康师傅 noodle): a warning to the reader, never listed as the product's trademark.
    look_alikes: list[TracedMark] = []
    findings: list[Finding] = []
    results: list[TracedResult]
    warnings: list[TracedWarning]
    notice_zh: str = Field(default_factory=lambda: render(NOTICE, "zh"))
    notice_en: str = Field(default_factory=lambda: render(NOTICE, "en"))
    not_official_zh: str = Field(default_factory=lambda: render(NOT_OFFICIAL, "zh"))
    not_official_en: str = Field(default_factory=lambda: render(NOT_OFFICIAL, "en"))
