"""What a simulated instrument has measured: deterministic from a seed, or read from a scenario file.

A scenario is a list of *intents* — which sample, which item, which channel, which outcome — grouped
into the instrument's own records (a pesticide run, a gold card, a spectro result). The measured values
are drawn from a seeded generator to fit each intent, and already rounded the way the wire carries them
(float32, or the decimals of an ASTM field), so `expected_readings()` equals what a driver decodes.

Scenario file (YAML or JSON)::

    serial: EIA-000042            # optional; else --serial or the family's default
    first_sequence: 1             # optional
    start: 2026-05-06T09:00:00    # optional; instrument clock of the first result
    readings:
      - {sample: S2605060001, item: OPC, channel: 1, result: positive, group: 1}
      - {sample: S2605060002, channel: 2, group: 1}     # result defaults to negative
      - {sample: null, item: NO2, result: invalid}      # the instrument does not know the sample

`group` puts readings into one record (pesticide run, gold card); readings without one get a record
each for spectro and gold, and for pesticide consecutive readings share a run until a channel repeats.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from instrument_drivers import family_registry as families
from instrument_drivers.errors import UnknownDriverError
from instrument_drivers.reading import Reading

if TYPE_CHECKING:
    from simulators.base import Simulator

RESULTS = ("negative", "positive", "invalid")
DEFAULT_START = datetime(2026, 5, 6, 9, 0, 0)


class ScenarioError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Intent:
    sample: str | None
    item: str | None = None
    channel: int | None = None
    result: str = "negative"
    group: int | None = None


@dataclass
class Scenario:
    family: str
    serial: str
    first_sequence: int
    start: datetime
    intents: list[Intent]
    seed: int

    # --- construction -------------------------------------------------------------------------------

    @classmethod
    def from_seed(
        cls, family: str, seed: int, count: int, serial: str | None = None, first_sequence: int = 1
    ) -> Scenario:
        rng = random.Random(f"scenario:{family}:{seed}")
        intents = []
        day = DEFAULT_START.strftime("%y%m%d")
        for n in range(count):
            roll = rng.random()
            result = "invalid" if roll < 0.03 else "positive" if roll < 0.15 else "negative"
            sample = None if rng.random() < 0.08 else f"S{day}{(seed * 7919 + n) % 10000:04d}"
            intents.append(Intent(sample=sample, result=result))
        return cls(family, serial or default_serial(family, seed), first_sequence, DEFAULT_START, intents, seed)

    @classmethod
    def from_file(
        cls, family: str, path: str | Path, seed: int, count: int | None = None, serial: str | None = None
    ) -> Scenario:
        text = Path(path).read_text(encoding="utf-8")
        try:
            data = json.loads(text) if str(path).endswith(".json") else yaml.safe_load(text)
        except (json.JSONDecodeError, yaml.YAMLError) as exc:
            raise ScenarioError(f"{path}: not valid YAML/JSON: {exc}") from None
        if not isinstance(data, dict) or not isinstance(data.get("readings"), list) or not data["readings"]:
            raise ScenarioError(f"{path}: expected a mapping with a non-empty 'readings' list")
        intents = []
        for n, entry in enumerate(data["readings"], 1):
            if not isinstance(entry, dict):
                raise ScenarioError(f"{path}: reading {n} is not a mapping")
            result = str(entry.get("result", "negative"))
            if result not in RESULTS:
                raise ScenarioError(f"{path}: reading {n}: result must be one of {RESULTS}, not {result!r}")
            sample = entry.get("sample")
            intents.append(
                Intent(
                    sample=str(sample) if sample else None,
                    item=str(entry["item"]) if entry.get("item") else None,
                    channel=int(entry["channel"]) if entry.get("channel") is not None else None,
                    result=result,
                    group=int(entry["group"]) if entry.get("group") is not None else None,
                )
            )
        if count is not None:
            intents = [intents[i % len(intents)] for i in range(count)]
            if count > len(data["readings"]):  # repeated groups must not merge into one record
                intents = [
                    Intent(
                        it.sample,
                        it.item,
                        it.channel,
                        it.result,
                        None if it.group is None else it.group + 1_000_000 * (i // len(data["readings"])),
                    )
                    for i, it in enumerate(intents)
                ]
        start = data.get("start")
        try:
            start_dt = datetime.fromisoformat(str(start)) if start else DEFAULT_START
        except ValueError:
            raise ScenarioError(f"{path}: start must be an ISO date-time, not {start!r}") from None
        return cls(
            family,
            serial or str(data.get("serial") or default_serial(family, seed)),
            int(data.get("first_sequence", 1)),
            start_dt,
            intents,
            seed,
        )

    # --- records ------------------------------------------------------------------------------------

    def records(self) -> list[Any]:
        """What the instrument has measured, as its codec's records (runs, cards, FIFO results…)."""
        return _simulator_class(self.family).generate(self)

    def groups(self, max_size: int, rng: random.Random, key_channel: bool = False) -> list[list[Intent]]:
        """The intents grouped into records: by `group`, else up to a random `max_size` at a time (and,
        with `key_channel`, never twice the same channel in one record)."""
        groups: list[list[Intent]] = []
        current: list[Intent] = []
        target = rng.randint(1, max_size)
        for it in self.intents:
            if it.group is not None:
                if current and (current[0].group != it.group):
                    groups.append(current)
                    current = []
                current.append(it)
                continue
            if current and (
                current[0].group is not None
                or len(current) >= target
                or (key_channel and it.channel is not None and it.channel in {c.channel for c in current})
            ):
                groups.append(current)
                current = []
                target = rng.randint(1, max_size)
            current.append(it)
        if current:
            groups.append(current)
        return groups


def _spec(family: str) -> families.FamilySpec:
    try:
        return families.spec(family)
    except UnknownDriverError as exc:
        raise ScenarioError(str(exc)) from None


def _simulator_class(family: str) -> type[Simulator]:
    cls: type[Simulator] = _spec(family).load("simulator")
    return cls


def default_serial(family: str, seed: int) -> str:
    """The serial number of a seeded instrument: the family's prefix and the seed."""
    return f"{_spec(family).serial_prefix}-{seed:06d}"


def expected_readings(scenario: Scenario) -> list[Reading]:
    """The readings a correct driver must yield for `scenario`, in the order the instrument sends them."""
    readings: list[Reading] = _simulator_class(scenario.family).expected(scenario)
    return readings


SEQUENCES_PER_SEED = 10_000


def default_first_sequence(seed: int) -> int:
    """Where a seeded run starts numbering. Runs with other seeds under the same --serial then never
    reuse a sequence number (which storage would take for a re-send), while each has < 10,000 records."""
    return 1 + seed * SEQUENCES_PER_SEED


def load(
    family: str,
    *,
    seed: int = 0,
    count: int | None = None,
    serial: str | None = None,
    scenario_file: str | Path | None = None,
    first_sequence: int | None = None,
) -> Scenario:
    if scenario_file is not None:
        scenario = Scenario.from_file(family, scenario_file, seed, count, serial)
        if first_sequence is not None:
            scenario.first_sequence = first_sequence
        return scenario
    first = default_first_sequence(seed) if first_sequence is None else first_sequence
    return Scenario.from_seed(family, seed, 100 if count is None else count, serial, first)


def as_json_lines(readings: Sequence[Reading]) -> str:
    return "".join(json.dumps(r.as_dict(), ensure_ascii=False) + "\n" for r in readings)
