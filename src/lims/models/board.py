"""What a market's public board shows: the point's published results of the last days, disposals, warnings."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import SQLModel


class BoardResult(SQLModel):
    """One published quick-test result at the point, as the board lists it."""

    sample_label_id: str
    product_name: str
    vendor: str  # 被检单位
    stall: str  # 摊位
    item_code: str
    item_name_zh: str
    item_name_en: str
    judgement: str  # negative | positive (invalid runs are repeated and not shown)
    case_state: str | None = None  # for a positive: where its legal procedure stands (CaseState)
    result_zh: str = ""  # the public wording of the result (the consumer page's badge)
    result_en: str = ""
    tested_at: datetime
    local_day: date  # the district's date of the test


class BoardDisposal(SQLModel):
    """A failing product at the point and what was done with it (from its case record)."""

    sample_label_id: str
    product_name: str
    vendor: str
    stall: str
    item_code: str
    item_name_zh: str
    item_name_en: str
    tested_at: datetime
    case_state: str
    case_state_zh: str = ""
    case_state_en: str = ""
    sale_suspended_at: datetime | None
    disposal_action: str | None  # a DisposalKind once the goods were dealt with
    disposal_quantity: float | None
    disposal_unit: str
    disposal_at: datetime | None
    closed: bool


class BoardWarning(SQLModel):
    """A consumption-safety warning of the point's district in force now."""

    id: int
    title_zh: str
    title_en: str
    body_zh: str
    body_en: str
    published_at: datetime
    expires_at: datetime | None


class MarketBoard(SQLModel):
    """Everything one point's board shows, with the district-local days it covers."""

    district_code: str
    district_name: str
    district_name_en: str
    point_code: str
    point_name: str
    point_name_en: str
    time_zone: str
    days: int
    first_day: date
    today: date
    generated_at: datetime
    results: list[BoardResult]
    more_results: bool  # more results were published in the days than the board lists
    disposals: list[BoardDisposal]
    warnings: list[BoardWarning]
