"""Every registered instrument family runs the shared driver contract (a `test_<family>_contract` module)."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from instrument_drivers import families
from tests.instruments.contract import DriverContract


def test_every_family_runs_the_driver_contract() -> None:
    covered: dict[str, str] = {}
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if not (module.name.startswith("test_") and module.name.endswith("_contract")):
            continue
        namespace = vars(importlib.import_module(f"tests.instruments.{module.name}"))
        for obj in namespace.values():
            if isinstance(obj, type) and issubclass(obj, DriverContract) and obj is not DriverContract:
                assert obj.__name__.startswith("Test"), f"{obj.__name__} would not be collected"
                assert obj.transports, f"{obj.__name__} names no transport"
                covered[obj.family] = module.name
    assert set(covered) == set(families()), f"families without a contract module: {set(families()) - set(covered)}"
