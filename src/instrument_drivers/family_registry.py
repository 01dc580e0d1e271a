"""The instrument family registry: one entry per family, naming its modules by dotted path (importing it
imports no family).

A family is a plug-in made of one driver module, one codec (protocol) module, one simulator module and one
judgement module, plus its reference data. Its `FamilySpec` names them as strings, so that the libraries
(`instrument_drivers`, `simulators`) can hold the whole registry without importing the application, and
the application finds a family's judgement without a table of family names of its own::

    from instrument_drivers import family_registry

    family_registry.register(FamilySpec(name="nitrite", driver="my_pkg.driver:NitriteDriver", ...))
    family_registry.spec("nitrite").load("driver")       # the driver class, imported now

Installed packages can add families through the entry point group ``instrument_drivers.families``: each
entry point names a `FamilySpec` object, registered the first time the registry is asked for a family.

What each module holds (by contract, see tests/instruments/test_plugin_family.py for a complete example):

* driver – a `instrument_drivers.base.Driver` subclass whose `family` is the spec's name
* codec – the wire format: frames, records, checksums (imported by driver and simulator)
* simulator – a `simulators.base.Simulator` subclass with `generate(scenario)` (what the instrument has
  measured, as the codec's records) and `expected(scenario)` (the readings a correct driver yields)
* judgement – `Raw` (a pydantic model of the raw figures, or a tuple of alternative models),
  `judge_raw(raw, context)`, optionally `USES_KIT_LOT = True` and `example_raw(context, positive, rng)`
"""

from __future__ import annotations

import importlib
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from instrument_drivers.errors import UnknownDriverError

ENTRY_POINT_GROUP = "instrument_drivers.families"
SERIAL: tuple[str, ...] = ("serial",)
SERIAL_AND_MODBUS: tuple[str, ...] = ("serial", "modbus-rtu", "modbus-tcp")
Part = Literal["driver", "codec", "simulator", "judgement"]
_NAME = re.compile(r"[a-z][a-z0-9_]*(?:-[a-z0-9_]+)*")  # a CLI word: lower case, words joined by '-' or '_'


@dataclass(frozen=True, slots=True)
class FamilySpec:
    """One instrument family: where its parts live, and the plain facts the libraries need about it.

    `driver` and `simulator` are ``module:Class``; `codec` and `judgement` are modules. `links` says
    which link schemes the family speaks: a serial byte stream only (`SERIAL`: a device path or
    socket://), or also Modbus RTU and TCP (`SERIAL_AND_MODBUS`). `channels` is how many channels one
    instrument record can hold (a multi-channel run of one item, one sample per channel); 0 means one
    record per sample. `demo_listen` is where the demo's simulator of the family listens. `items` names the
    family whose test items (and kit lots) this one measures, when it reads another family's tests in its own
    way (a photo of a colloidal-gold card measures the gold items, judged by the same kit-lot cut-offs);
    empty, it measures items of its own.
    """

    name: str
    driver: str
    codec: str
    simulator: str
    judgement: str
    serial_prefix: str
    default_baud: int
    links: tuple[str, ...] = SERIAL
    channels: int = 0
    demo_listen: str = "socket://127.0.0.1:0"
    items: str = ""

    @property
    def item_family(self) -> str:
        """The family whose test items this family measures (its own unless `items` names another)."""
        return self.items or self.name

    @property
    def modbus(self) -> bool:
        """True when the family speaks Modbus (RTU, and TCP)."""
        return "modbus-rtu" in self.links

    def path(self, part: Part) -> str:
        """The dotted path of one part."""
        value: str = getattr(self, part)
        return value

    def load(self, part: Part) -> Any:
        """Import one part now: the class for ``module:Class`` paths, else the module."""
        module_name, _, attribute = self.path(part).partition(":")
        module = importlib.import_module(module_name)
        return getattr(module, attribute) if attribute else module


_BUILT_IN: tuple[FamilySpec, ...] = (
    FamilySpec(
        name="pesticide",
        driver="instrument_drivers.pesticide:PesticideDriver",
        codec="instrument_drivers.protocols.pesticide",
        simulator="simulators.pesticide:PesticideSimulator",
        judgement="lims.judgement.enzyme",
        serial_prefix="EIA",
        default_baud=115200,
        channels=8,
    ),
    FamilySpec(
        name="gold",
        driver="instrument_drivers.gold:GoldDriver",
        codec="instrument_drivers.protocols.gold",
        simulator="simulators.gold:GoldSimulator",
        judgement="lims.judgement.gold",
        serial_prefix="GCR",
        default_baud=9600,
    ),
    FamilySpec(
        name="spectro",
        driver="instrument_drivers.spectro:SpectroDriver",
        codec="instrument_drivers.protocols.spectro",
        simulator="simulators.spectro:SpectroSimulator",
        judgement="lims.judgement.spectro",
        serial_prefix="SPM",
        default_baud=9600,
        links=SERIAL_AND_MODBUS,
        demo_listen="modbus-tcp://127.0.0.1:0",
    ),
    FamilySpec(
        name="card-photo",
        driver="instrument_drivers.card_photo.driver:CardPhotoDriver",
        codec="instrument_drivers.card_photo.codec",
        simulator="simulators.card_photo.simulator:CardPhotoSimulator",
        judgement="lims.judgement.card_photo",
        serial_prefix="CPH",
        default_baud=115200,
        items="gold",
    ),
)

_lock = threading.Lock()
_families: dict[str, FamilySpec] = {spec.name: spec for spec in _BUILT_IN}
_entry_points_loaded = False


def _check(spec: FamilySpec) -> None:
    if not _NAME.fullmatch(spec.name):
        raise ValueError(f"a family name is a lower-case word (letters, digits, '_' or '-'), not {spec.name!r}")
    for part in ("driver", "simulator"):
        if ":" not in getattr(spec, part):
            raise ValueError(f"family {spec.name}: {part} must be 'module:Class'")
    if spec.links[:1] != SERIAL or not set(spec.links) <= set(SERIAL_AND_MODBUS):
        raise ValueError(f"family {spec.name}: links must be {SERIAL} or {SERIAL_AND_MODBUS}")
    if spec.default_baud <= 0 or spec.channels < 0:
        raise ValueError(f"family {spec.name}: default_baud must be positive and channels not negative")


def register(spec: FamilySpec, *, replace: bool = False) -> FamilySpec:
    """Add a family at run time (a plug-in); refuses a second family of the same name unless `replace`."""
    _check(spec)
    with _lock:
        if spec.name in _families and not replace and _families[spec.name] != spec:
            raise ValueError(f"family {spec.name!r} is registered already")
        _families[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a family registered at run time (for tests); the built-in ones stay."""
    if any(spec.name == name for spec in _BUILT_IN):
        raise ValueError(f"{name!r} is a built-in family")
    with _lock:
        _families.pop(name, None)


def _load_entry_points() -> None:
    global _entry_points_loaded
    if _entry_points_loaded:
        return
    _entry_points_loaded = True
    from importlib.metadata import entry_points

    for entry in entry_points(group=ENTRY_POINT_GROUP):
        spec = entry.load()
        if isinstance(spec, FamilySpec):
            register(spec)


def all_specs() -> dict[str, FamilySpec]:
    """Every registered family by name."""
    _load_entry_points()
    with _lock:
        return dict(_families)


def names() -> list[str]:
    """The registered family names, sorted."""
    return sorted(all_specs())


def item_family(name: str) -> str:
    """The family whose test items family `name` measures (see `FamilySpec.items`); the name itself if unknown."""
    found = all_specs().get(name)
    return found.item_family if found is not None else name


def spec(name: str) -> FamilySpec:
    """The family called `name`; `UnknownDriverError` (a `LookupError`) names the known ones."""
    found = all_specs().get(name)
    if found is None:
        raise UnknownDriverError(f"no instrument family {name!r}; known: {', '.join(names())}")
    return found


class PartTable(Mapping[str, tuple[str, str]]):
    """family → (module, class) of one part, live: a family registered later appears in it at once."""

    def __init__(self, part: Part) -> None:
        self._part: Part = part

    def __getitem__(self, name: str) -> tuple[str, str]:
        module, _, cls = all_specs()[name].path(self._part).partition(":")
        return module, cls

    def __iter__(self) -> Iterator[str]:
        return iter(names())

    def __len__(self) -> int:
        return len(all_specs())
