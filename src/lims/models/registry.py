"""Product and trademark registries used for traceability and authentication (商标和条形码查询鉴别)."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Field, SQLModel

from lims.models.common import json_column, utcnow


class ProductBase(SQLModel):
    """A product known by its GTIN (stored as GTIN-14, so UPC-A and EAN-13 forms are one product)."""

    gtin: str = Field(max_length=14, min_length=14, unique=True, index=True)
    name: str = Field(max_length=300)
    brand: str = Field(default="", max_length=200)
    brand_owner: str = Field(default="", max_length=300)
    company: str = Field(default="", max_length=300)
    quantity: str = Field(default="", max_length=100)
    category: str = Field(default="", max_length=200)
    country: str = Field(default="", max_length=100)
    origin: str = Field(default="", max_length=200)
    source: str = Field(default="", max_length=100)


class Product(ProductBase, table=True):
    """A product row."""

    __tablename__ = "product"
    id: int | None = Field(default=None, primary_key=True)
    updated_at: datetime = Field(default_factory=utcnow)


class TrademarkBase(SQLModel):
    """A registered trademark with its Nice classes and validity."""

    registration_no: str = Field(max_length=40, unique=True, index=True)
    mark: str = Field(max_length=200, index=True)
    owner: str = Field(max_length=300, index=True)
    classes: list[int] = Field(default_factory=list, sa_column=json_column(nullable=False))
    valid_from: date | None = None
    valid_to: date | None = None
    status: str = Field(default="registered", max_length=40)


class TrademarkRecord(TrademarkBase, table=True):
    """A trademark row."""

    __tablename__ = "trademark"
    id: int | None = Field(default=None, primary_key=True)
    updated_at: datetime = Field(default_factory=utcnow)
