"""The results notice (快速检测结果告知书) of a positive case: what it states, gathered from the case.

What the notice must say follows the SAMR 2023 opinion on the use of food quick tests and its result
verification annex (告知书 template): the result, the item, the method and its detection limit, that a quick
test is a screening and not an official sampling inspection, and, for an edible agricultural product, the
right to a retest within four hours of receipt (Food Safety Law art. 88 para. 2), by a method other than a
quick test, and where to apply. A processed food is instead inspected by a qualified lab (art. 112 → 87).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from lims.judgement.detection import detection_limit
from lims.models import District, Sample, SamplingPoint, Station, TestItem, TestResult
from lims.models.cases import Procedure
from lims.services.cases import procedure
from lims.services.core import clock
from lims.services.core.audit import Actor


@dataclass(frozen=True)
class Notice:
    """Everything the printed notice shows."""

    case_id: int
    procedure: str
    district: str
    apply_at: str  # where to apply for the retest: the district's 12315 centre (its provincial-standard station)
    apply_address: str
    point: str
    point_address: str
    product: str
    batch: str
    supplier: str
    label_id: str
    seal_number: str
    item_zh: str
    item_en: str
    method: str
    detection_limit: str
    value: str
    unit: str
    judgement: str
    tested_at: datetime
    opened_at: datetime
    received_at: datetime | None
    deadline: datetime | None
    delivery: str | None
    recipient: str
    recipient_role: str
    late: bool
    zone: str

    @property
    def retest(self) -> bool:
        """Whether the party may ask for a retest within four hours (art. 88)."""
        return self.procedure == Procedure.RETEST


def notice_of(session: Session, actor: Actor, case_id: int) -> Notice:
    """The notice of a case the actor may see."""
    case = procedure.get_for(session, actor, case_id)
    result = session.get(TestResult, case.result_id)
    assert result is not None
    sample = session.get(Sample, result.sample_id)
    item = session.get(TestItem, result.item_id)
    point = session.get(SamplingPoint, case.point_id)
    district = session.get(District, case.district_id)
    assert sample is not None and item is not None and point is not None and district is not None
    centre = session.exec(
        select(Station).where(Station.district_id == case.district_id, Station.level == "provincial")
    ).first()
    limit, limit_unit = detection_limit(result.raw, item.method, item.unit)
    return Notice(
        case_id=int(case.id or 0),
        procedure=case.procedure,
        district=district.name,
        apply_at=centre.name if centre else district.name,
        apply_address=centre.address if centre else "",
        point=point.name,
        point_address=point.address,
        product=sample.product_name,
        batch=sample.batch,
        supplier=sample.supplier,
        label_id=sample.label_id,
        seal_number=sample.seal_number,
        item_zh=item.name_zh,
        item_en=item.name_en,
        method=item.method_standard,
        detection_limit=f"{limit:g} {limit_unit}" if limit is not None else "",
        value=result.reported_value or ("" if result.value is None else f"{result.value:.4g}"),
        unit=result.unit,
        judgement=result.judgement,
        tested_at=result.tested_at,
        opened_at=case.opened_at,
        received_at=case.notified_at,
        deadline=case.retest_deadline,
        delivery=case.notice_delivery,
        recipient=case.notice_recipient,
        recipient_role=case.notice_recipient_role,
        late=case.notice_late,
        zone=str(clock.zone(district)),
    )
