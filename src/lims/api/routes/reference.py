"""Reference data for forms, filters and consumer pages: sampling points and test items."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from lims.api.deps import OptionalUser, SessionDep
from lims.models.reference import SamplingPointPublic, TestItemBase
from lims.services.access import districts
from lims.services.reference import reference_data

router = APIRouter(prefix="/reference", tags=["reference"])


@router.get("/points")
def points(
    session: SessionDep,
    actor: OptionalUser,
    district: Annotated[str | None, Query(min_length=2, max_length=2, pattern=r"^[A-Za-z]{2}$")] = None,
) -> list[SamplingPointPublic]:
    """Sampling points of every district (or of `district`): district, code, name, kind and area for anyone;
    address, coordinates and station only to signed-in staff of the point's own district."""
    return districts.point_listing(session, actor, district)


@router.get("/items")
def items(session: SessionDep) -> list[TestItemBase]:
    """Every test item in use (not retired) with its quick-test method, confirmatory method and unit."""
    return [TestItemBase.model_validate(i, from_attributes=True) for i in reference_data.items(session)]
