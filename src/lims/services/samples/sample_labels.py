"""What a sample's label shows: its signed public link, point, collection date and the items it is tested for."""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from lims.i18n import _N
from lims.models import FoodCategory, Limit, Sample, SamplingPoint, TestItem
from lims.services.core.errors import NotFound
from lims.services.samples import links


@dataclass(frozen=True)
class LabelFields:
    """The printable fields of one sample label."""

    sample_id: str
    url: str
    point: str
    date: str
    items: tuple[str, ...]


def label_fields(session: Session, label_id: str) -> LabelFields:
    """The label of a registered sample, with a link signed so it cannot be altered to show another sample."""
    sample = session.exec(select(Sample).where(Sample.label_id == label_id.upper())).first()
    if sample is None:
        raise NotFound("sample_labels.no_sample", _N("no sample {label_id}"), label_id=label_id)
    point = session.get(SamplingPoint, sample.point_id)
    items = session.exec(
        select(TestItem.code)
        .join(Limit, col(Limit.item_id) == col(TestItem.id))
        .join(FoodCategory, col(FoodCategory.id) == col(Limit.category_id))
        .where(FoodCategory.code == sample.category_code)
        .order_by(col(TestItem.code))
    ).all()
    return LabelFields(
        sample_id=sample.label_id,
        url=links.sample_url(sample.label_id),
        point=point.name if point else "",
        date=f"{sample.collected_at:%Y-%m-%d}",
        items=tuple(items),
    )
