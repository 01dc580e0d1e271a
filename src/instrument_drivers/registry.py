"""Lazy registry of drivers: name → (module, class). Importing it imports no driver."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from instrument_drivers.errors import UnknownDriverError

if TYPE_CHECKING:
    from instrument_drivers.base import Driver

DRIVERS: dict[str, tuple[str, str]] = {
    "pesticide": ("instrument_drivers.pesticide", "PesticideDriver"),
    "gold": ("instrument_drivers.gold", "GoldDriver"),
    "spectro": ("instrument_drivers.spectro", "SpectroDriver"),
}


def families() -> list[str]:
    return sorted(DRIVERS)


def driver_class(name: str) -> type[Driver]:
    try:
        module_name, class_name = DRIVERS[name]
    except KeyError:
        raise UnknownDriverError(f"no driver {name!r}; known: {', '.join(families())}") from None
    cls: type[Driver] = getattr(importlib.import_module(module_name), class_name)
    return cls


def create_driver(name: str, url: str, **options: Any) -> Driver:
    """A driver for `url`, not yet connected: use it as a context manager (or call `open()`)."""
    return driver_class(name)(url, **options)
