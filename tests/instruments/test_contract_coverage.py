"""Every registered instrument family runs the shared driver contract (a `DriverContract` subclass in a test
module here), and no contract runs for a family that is gone.

A plug-in family that its own test module writes and registers at run time (``registered_at_run_time``) is
registered only while one of its tests runs: it is counted as covered, but never expected among the
registered families, so the check gives the same answer whichever tests ran before it in this process."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from instrument_drivers import families
from tests.instruments.contract import DriverContract


def _contracts() -> dict[str, type[DriverContract]]:
    """family → its contract class, from every test module of this folder."""
    found: dict[str, type[DriverContract]] = {}
    for module in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if not module.name.startswith("test_"):
            continue
        namespace = vars(importlib.import_module(f"tests.instruments.{module.name}"))
        for obj in namespace.values():
            if isinstance(obj, type) and issubclass(obj, DriverContract) and obj is not DriverContract:
                assert obj.__name__.startswith("Test"), f"{obj.__name__} would not be collected"
                assert obj.transports, f"{obj.__name__} names no transport"
                assert obj.family not in found, f"two contract classes for {obj.family}"
                found[obj.family] = obj
    return found


def test_every_family_runs_the_driver_contract() -> None:
    contracts = _contracts()
    run_time = {family for family, cls in contracts.items() if cls.registered_at_run_time}
    registered = set(families()) - run_time
    assert registered <= set(contracts), f"families without a contract: {registered - set(contracts)}"
    assert set(contracts) - run_time == registered, f"contracts of no family: {set(contracts) - run_time - registered}"
    assert run_time == {"brix"}, "the plug-in example runs the contract too"
