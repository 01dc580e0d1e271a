"""Drivers by family name, read from the family registry (`instrument_drivers.family_registry`). Importing it
imports no driver."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from instrument_drivers import family_registry

if TYPE_CHECKING:
    from instrument_drivers.base import Driver


DRIVERS: Mapping[str, tuple[str, str]] = family_registry.PartTable("driver")


def families() -> list[str]:
    """The family names a driver exists for, sorted."""
    return family_registry.names()


def driver_class(name: str) -> type[Driver]:
    """The driver class of family `name` (imported now); `UnknownDriverError` names the known ones."""
    cls: type[Driver] = family_registry.spec(name).load("driver")
    return cls


def create_driver(name: str, url: str, **options: Any) -> Driver:
    """A driver for `url`, not yet connected: use it as a context manager (or call `open()`)."""
    return driver_class(name)(url, **options)
