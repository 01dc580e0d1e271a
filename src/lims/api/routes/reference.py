"""Reference data for forms and filters: sampling points and test items."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import select

from lims.api.deps import SessionDep
from lims.models import SamplingPoint, TestItem
from lims.models.reference import SamplingPointPublic, TestItemBase

router = APIRouter(prefix="/reference", tags=["reference"])


@router.get("/points")
def points(session: SessionDep) -> list[SamplingPointPublic]:
    """Every sampling point."""
    return [SamplingPointPublic.model_validate(p, from_attributes=True) for p in session.exec(select(SamplingPoint))]


@router.get("/items")
def items(session: SessionDep) -> list[TestItemBase]:
    """Every test item with its method standard and unit."""
    return [TestItemBase.model_validate(i, from_attributes=True) for i in session.exec(select(TestItem))]
