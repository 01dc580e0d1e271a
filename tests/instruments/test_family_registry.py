"""The instrument family registry: lazy, consistent with each family's modules, open to plug-ins, and the one
place every layer asks about families (unknown ones are refused naming the known ones)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import Engine
from sqlmodel import Session

import schedules
from instrument_drivers import UnknownDriverError, create_driver, family_registry
from instrument_drivers.family_registry import SERIAL_AND_MODBUS, FamilySpec
from lims.services.core.audit import SYSTEM
from lims.services.core.errors import Invalid
from lims.services.reference import judging, reference_data
from lims.services.samples import plans
from simulators.registry import ListenUrlError, open_endpoint, simulator_class
from simulators.scenario import ScenarioError, load

BUILT_IN = family_registry.names()  # the built-in families (no plug-in is registered at import)


def test_importing_the_registries_imports_no_family() -> None:
    code = (
        "import sys, instrument_drivers, instrument_drivers.family_registry, simulators.registry, simulators.scenario\n"
        "parts = [s.path(p).partition(':')[0] for s in instrument_drivers.family_registry.all_specs().values()"
        " for p in ('driver', 'codec', 'simulator', 'judgement')]\n"
        "print(sorted(m for m in parts if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize("name", BUILT_IN)
def test_each_family_s_modules_agree_with_its_entry(name: str) -> None:
    spec = family_registry.spec(name)
    driver = spec.load("driver")
    assert (driver.family, driver.default_baud) == (name, spec.default_baud)
    assert simulator_class(name).family == name
    assert spec.load("codec").__name__ == spec.codec
    judgement = spec.load("judgement")
    assert callable(judgement.judge_raw) and judgement.Raw
    assert load(name, seed=4, count=3).serial.startswith(f"{spec.serial_prefix}-")


def test_register_checks_the_entry_and_refuses_a_second_family_of_one_name() -> None:
    spec = replace(family_registry.spec("gold"), name="gold_two")
    family_registry.register(spec)
    try:
        assert "gold_two" in family_registry.names()
        family_registry.register(spec)  # the same entry again changes nothing
        with pytest.raises(ValueError, match="registered already"):
            family_registry.register(replace(spec, serial_prefix="G2"))
        family_registry.register(replace(spec, serial_prefix="G2"), replace=True)
        assert family_registry.spec("gold_two").serial_prefix == "G2"
    finally:
        family_registry.unregister("gold_two")
    assert "gold_two" not in family_registry.names()
    with pytest.raises(ValueError, match="built-in"):
        family_registry.unregister("gold")
    for bad, message in (
        (replace(spec, name="Gold 2"), "lower-case word"),
        (replace(spec, driver="instrument_drivers.gold"), "module:Class"),
        (replace(spec, links=("modbus-tcp",)), "links"),
        (replace(spec, default_baud=0), "default_baud"),
    ):
        with pytest.raises(ValueError, match=message):
            family_registry.register(bad)


def test_modbus_listen_urls_only_for_families_that_speak_it() -> None:
    assert family_registry.spec("spectro").links == SERIAL_AND_MODBUS
    for name in BUILT_IN:
        if family_registry.spec(name).modbus:
            endpoint, framing, url = open_endpoint(name, "modbus-tcp://127.0.0.1:0")
            endpoint.close()
            assert (framing, url.split(":")[0]) == ("tcp", "modbus-tcp")
        else:
            with pytest.raises(ListenUrlError, match="serial protocol"):
                open_endpoint(name, "modbus-tcp://127.0.0.1:0")


def test_an_unknown_family_is_refused_naming_the_known_ones() -> None:
    known = "known: " + ", ".join(BUILT_IN)
    with pytest.raises(UnknownDriverError, match=known):
        create_driver("nitrite", "socket://127.0.0.1:1")
    with pytest.raises(ScenarioError, match=known):
        load("nitrite")
    with pytest.raises(ListenUrlError, match=known):
        open_endpoint("nitrite", "socket://127.0.0.1:0")
    with pytest.raises(Invalid, match=known):
        judging.module("nitrite")


def test_reference_data_refuse_an_instrument_of_an_unknown_family(engine: Engine, tmp_path: Path) -> None:
    district = yaml.safe_load((reference_data.shipped_reference_dir() / "district.yaml").read_text(encoding="utf-8"))
    district["instruments"].append({"serial": "NT-1", "family": "nitrite", "calibration_due": "2099-01-01"})
    (tmp_path / "district.yaml").write_text(yaml.safe_dump(district, allow_unicode=True), encoding="utf-8")
    with Session(engine) as session, pytest.raises(Invalid, match="instrument NT-1: unknown family 'nitrite'; known"):
        reference_data.load_reference(session, SYSTEM, tmp_path)


def test_a_plan_may_name_a_plug_in_family_once_it_is_registered(tmp_path: Path) -> None:
    data = yaml.safe_load(schedules.example_plan_path().read_text(encoding="utf-8"))
    first = next(iter(data["items"]))
    data["items"][first]["family"] = "nitrite"
    data["vehicle"]["channels_per_day"]["nitrite"] = 10
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    plan = schedules.load_plan(path)  # the planning library takes family keys as plain strings
    assert "nitrite" in plan.families and plan.items[first].family == "nitrite"
    with pytest.raises(Invalid, match=r"unknown instrument families nitrite; known"):
        plans.load(path)
    family_registry.register(FamilySpec("nitrite", "m:D", "m", "m:S", "m", "NT", 9600))
    try:
        assert plans.load(path).families == plan.families
    finally:
        family_registry.unregister("nitrite")
