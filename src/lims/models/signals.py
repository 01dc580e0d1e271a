"""Early-warning signals as the API shows them (computed from results, not stored), and a request to draft one."""

from __future__ import annotations

from datetime import date

from sqlmodel import Field, SQLModel


class CountPublic(SQLModel):
    """Valid tests and positives, with the rate."""

    tested: int
    positive: int
    rate: float


class SignalPublic(SQLModel):
    """One point × food category × item whose recent positive rate is above its references by more than chance."""

    point_code: str
    point_name: str
    category_code: str
    category_name_zh: str
    item_code: str
    item_name_zh: str
    item_name_en: str
    window: CountPublic = Field(description="The recent window at this point")
    urgent: CountPublic = Field(description="Of the window's tests, those after consumer complaints (urgent tasks)")
    history: CountPublic = Field(description="This point in the history before the window")
    district: CountPublic = Field(description="The district's other points, history and window together")
    p_history: float
    p_district: float
    q_history: float = Field(description="Benjamini-Hochberg adjusted p-value against the point's history")
    q_district: float = Field(description="Benjamini-Hochberg adjusted p-value against the rest of the district")
    strength: float = Field(description="-log10 of the smaller adjusted p-value (1.3 is the 0.05 line)")
    against: list[str] = Field(description="district, history: the references the window is above")
    products: list[tuple[str, int]] = Field(description="Product names of the window's positives, with counts")


class SignalParameters(SQLModel):
    """The analysis' parameters (data/signals.yaml)."""

    window_days: int
    history_days: int
    min_tests: int
    min_positives: int
    false_discovery_rate: float
    prior: float


class SignalsPublic(SQLModel):
    """The district's signals today, strongest first, with what was examined."""

    window_from: date
    window_to: date
    history_from: date
    parameters: SignalParameters
    cells: int = Field(description="Point × category × item cells with tests in the window")
    comparisons: int = Field(description="Comparisons made (two per cell with enough tests), for the FDR")
    signals: list[SignalPublic]


class SignalRef(SQLModel):
    """Which signal to draft a warning from."""

    point: str = Field(min_length=1, max_length=16)
    category: str = Field(min_length=1, max_length=32)
    item: str = Field(min_length=1, max_length=16)
