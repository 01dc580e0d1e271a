"""What a sample's label shows, the same on the printed page and from `lims label`: id, signed link, point,
the district's collection date and the items the sample's food category is tested for."""

from __future__ import annotations

from sqlmodel import Session, col, select

from barcodes.labels import LabelData
from lims.models import FoodCategory, Limit, Sample, SamplingPoint, TestItem
from lims.services.core import clock
from lims.services.samples import links


def label_data(session: Session, sample: Sample) -> LabelData:
    """The label of a registered sample, with a link signed so it cannot be altered to show another sample."""
    point = session.get(SamplingPoint, sample.point_id)
    items = session.exec(
        select(TestItem.code)
        .join(Limit, col(Limit.item_id) == col(TestItem.id))
        .join(FoodCategory, col(FoodCategory.id) == col(Limit.category_id))
        .where(FoodCategory.code == sample.category_code, col(Limit.retired).is_(False))
        .distinct()
        .order_by(col(TestItem.code))
    ).all()
    return LabelData(
        sample_id=sample.label_id,
        url=links.sample_url(sample.label_id),
        point=f"{point.code} {point.name}" if point else "",
        date=f"{clock.local_date(sample.collected_at, clock.zone_of(session, sample.district_id)):%Y-%m-%d}",
        items=tuple(items),
    )
