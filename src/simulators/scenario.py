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
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from instrument_drivers.protocols import gold as gold_proto
from instrument_drivers.protocols import pesticide as pest_proto
from instrument_drivers.protocols import spectro as spec_proto
from instrument_drivers.reading import Reading

RESULTS = ("negative", "positive", "invalid")
DEFAULT_START = datetime(2026, 5, 6, 9, 0, 0)

# Instrument item codes (the instrument's own; the LIMS maps them to its test items).
PESTICIDE_ITEMS = ("OPC",)  # organophosphate and carbamate, enzyme inhibition (GB/T 5009.199)
GOLD_PANELS: tuple[tuple[str, ...], ...] = (
    ("CLB", "RAC", "SAL"),  # clenbuterol, ractopamine, salbutamol (meat)
    ("MG", "CAP", "NF"),  # malachite green, chloramphenicol, nitrofurans (aquatic)
    ("AFB1",),  # aflatoxin B1 (grain, nuts, oil)
    ("CLB",),
    ("MG",),
)
# Gold kit lots loaded in the reader: item → (lot, T/C cut-off). T and C intensities are relative (0…1.5);
# a C line below 0.2 is no C line.
GOLD_KITS = {
    "CLB": ("CLB-2611A", 0.90),
    "RAC": ("RAC-2611A", 0.90),
    "SAL": ("SAL-2611A", 0.90),
    "MG": ("MG-2610B", 0.85),
    "CAP": ("CAP-2610B", 0.85),
    "NF": ("NF-2610B", 0.85),
    "AFB1": ("AFB1-2609C", 0.80),
}
GOLD_MIN_C = 0.2


@dataclass(frozen=True, slots=True)
class SpectroMethod:
    """The analyzer's built-in method for an item: content = c × V × dilution / mass, c = A_net / slope."""

    wavelength_nm: int
    slope: float  # absorbance per mg/L of the measured solution
    max_conc: float  # highest calibration standard, mg/L; above it the result is invalid (dilute, repeat)
    extract_ml: float
    unit: str  # mg/kg or g/kg
    limit: float  # in `unit`; for banned substances the detection limit (any content at or above is positive)
    banned: bool


SPECTRO_ITEMS: dict[str, SpectroMethod] = {
    "HCHO": SpectroMethod(413, 0.122, 8.0, 50.0, "mg/kg", 5.0, True),  # formaldehyde: not permitted in food
    "NO2": SpectroMethod(538, 0.470, 1.0, 100.0, "mg/kg", 30.0, False),  # nitrite, cured meat, GB 2760
    "SO2": SpectroMethod(579, 0.350, 2.0, 100.0, "g/kg", 0.1, False),  # SO2 residue, dried fruit, GB 2760
    "BORAX": SpectroMethod(550, 0.080, 10.0, 50.0, "mg/kg", 20.0, True),  # borax: not permitted
    "RONG": SpectroMethod(413, 0.120, 4.0, 50.0, "mg/kg", 10.0, True),  # rongalite (吊白块): not permitted
}
FAMILY_SERIAL_PREFIX = {"pesticide": "EIA", "gold": "GCR", "spectro": "SPM"}


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

    # --- records per family -------------------------------------------------------------------------

    def _groups(self, max_size: int, rng: random.Random, key_channel: bool = False) -> list[list[Intent]]:
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

    def pesticide_records(self) -> list[pest_proto.Record]:
        rng = random.Random(f"values:pesticide:{self.seed}")
        records = []
        seq = self.first_sequence
        f32 = pest_proto.f32
        for n, group in enumerate(self._groups(8, rng, key_channel=True)):
            fixed = [it.channel for it in group if it.channel is not None]
            free = [c for c in range(1, 9) if c not in fixed]
            rng.shuffle(free)
            chosen = []
            for it in group:
                channel = it.channel if it.channel is not None else free.pop()
                if not 1 <= channel <= pest_proto.MAX_CHANNELS:
                    raise ScenarioError(f"pesticide channel {channel} outside 1…{pest_proto.MAX_CHANNELS}")
                chosen.append((channel, it))
            if len({c for c, _ in chosen}) != len(chosen):
                raise ScenarioError(f"a channel is used twice in pesticide run {n + 1}")
            channels = []
            for channel, it in sorted(chosen, key=lambda p: p[0]):
                if it.result == "invalid":
                    dac = f32(round(rng.uniform(0.05, 0.28), 4))
                    inh_target = rng.uniform(0, 60)
                else:
                    dac = f32(round(rng.uniform(0.32, 0.85), 4))
                    inh_target = rng.uniform(52, 96) if it.result == "positive" else rng.uniform(-8, 45)
                das = f32(round(dac * (1 - inh_target / 100), 4))
                inh = f32((dac - das) / dac * 100)
                judgement = "invalid" if dac < 0.3 else "positive" if inh >= 50 else "negative"
                channels.append(pest_proto.ChannelResult(channel, seq, dac, das, inh, judgement, it.sample or ""))
                seq += 1
            records.append(
                pest_proto.Record(
                    run=self.first_sequence + n,
                    time=self.start + timedelta(minutes=4 * n),
                    item_code=group[0].item or PESTICIDE_ITEMS[0],
                    channels=tuple(channels),
                )
            )
        return records

    def gold_tests(self) -> list[gold_proto.CardTest]:
        rng = random.Random(f"values:gold:{self.seed}")
        tests = []
        remaining = list(self.intents)
        n = 0
        while remaining:
            if remaining[0].group is not None:
                gid = remaining[0].group
                size = next((i for i, it in enumerate(remaining) if it.group != gid), len(remaining))
                panel = tuple(it.item or "CLB" for it in remaining[:size])
            else:
                panel = rng.choice(GOLD_PANELS)
                size = next(
                    (i for i, it in enumerate(remaining[: len(panel)]) if it.group is not None),
                    min(len(panel), len(remaining)),
                )
                size = max(size, 1)
                panel = tuple(remaining[i].item or panel[i] for i in range(size))
            if size > gold_proto.MAX_LINES:
                raise ScenarioError(f"a gold card has at most {gold_proto.MAX_LINES} lines")
            group, remaining = remaining[:size], remaining[size:]
            test_no = self.first_sequence + n
            when = self.start + timedelta(minutes=3 * n)
            lines = []
            for pos, (it, item) in enumerate(zip(group, panel, strict=True), 1):
                lot, cutoff = GOLD_KITS.get(item, (f"{item}-LOT", 0.9))
                if it.result == "invalid":
                    c = round(rng.uniform(0.02, 0.15), 3)
                    t = round(rng.uniform(0.0, 0.1), 3)
                else:
                    c = round(rng.uniform(0.6, 1.2), 3)
                    ratio_target = (
                        rng.uniform(0.05, cutoff * 0.85) if it.result == "positive" else rng.uniform(cutoff * 1.1, 1.25)
                    )
                    t = round(ratio_target * c, 3)
                ratio = round(t / c, 3)
                judgement = "invalid" if c < GOLD_MIN_C else "positive" if ratio < cutoff else "negative"
                lines.append(
                    gold_proto.LineResult(
                        position=pos,
                        item_code=item,
                        kit_lot=lot,
                        t=t,
                        c=c,
                        ratio=ratio,
                        cutoff=cutoff,
                        judgement=judgement,
                        started=when - timedelta(minutes=10),
                        completed=when,
                    )
                )
            tests.append(
                gold_proto.CardTest(
                    serial=self.serial,
                    test_no=test_no,
                    sample_id=group[0].sample or "",
                    operator="T01",
                    time=when,
                    results=tuple(lines),
                )
            )
            n += 1
        return tests

    def spectro_results(self) -> list[spec_proto.Result]:
        rng = random.Random(f"values:spectro:{self.seed}")
        f32 = spec_proto.f32
        items = sorted(SPECTRO_ITEMS)
        results = []
        for n, it in enumerate(self.intents):
            item = it.item or rng.choice(items)
            if item not in SPECTRO_ITEMS:
                raise ScenarioError(f"spectro item {item!r} unknown; known: {', '.join(items)}")
            m = SPECTRO_ITEMS[item]
            per_kg = 1000.0 if m.unit == "g/kg" else 1.0  # content from c × V × dil / mass is in mg/kg
            mass = f32(round(rng.uniform(2.0, 5.0), 2))
            blank = f32(round(rng.uniform(0.010, 0.040), 3))
            if it.result == "invalid":  # beyond the highest standard
                c_target = m.max_conc * rng.uniform(1.2, 2.0)
                dilution = f32(1.0)
            else:
                content = m.limit * (rng.uniform(1.3, 3.0) if it.result == "positive" else rng.uniform(0.0, 0.7))
                dilution = f32(1.0)
                c_target = content * per_kg * mass / (m.extract_ml * dilution)
                while c_target > 0.9 * m.max_conc:  # dilute as the method says until it is on the curve
                    dilution = f32(dilution * 5)
                    c_target /= 5
            absorbance = f32(round(blank + c_target * m.slope, 3))
            c_sol = (absorbance - blank) / m.slope
            conc = f32(max(0.0, c_sol) * m.extract_ml * dilution / mass / per_kg)
            if c_sol > m.max_conc:
                judgement = "invalid"
            elif m.banned:
                judgement = "positive" if conc >= m.limit else "negative"
            else:
                judgement = "positive" if conc > m.limit else "negative"
            wavelength = m.wavelength_nm
            results.append(
                spec_proto.Result(
                    sequence=self.first_sequence + n,
                    item_code=item,
                    channel=it.channel if it.channel is not None else 1 + n % 6,
                    absorbance=absorbance,
                    blank=blank,
                    dilution=dilution,
                    mass_g=mass,
                    concentration=conc,
                    wavelength_nm=wavelength,
                    judgement=judgement,
                    sample_id=it.sample or "",
                    time=self.start + timedelta(minutes=2 * n),
                    unit=m.unit,
                )
            )
        return results


def default_serial(family: str, seed: int) -> str:
    return f"{FAMILY_SERIAL_PREFIX[family]}-{seed:06d}"


def expected_readings(scenario: Scenario) -> list[Reading]:
    """The readings a correct driver must yield for `scenario`, in the order the instrument sends them."""
    s = scenario.serial
    out: list[Reading] = []
    if scenario.family == "pesticide":
        for rec in scenario.pesticide_records():
            for ch in rec.channels:
                out.append(
                    Reading(
                        s,
                        "pesticide",
                        ch.result_seq,
                        rec.item_code,
                        ch.channel,
                        ch.sample_id or None,
                        {
                            "run": rec.run,
                            "delta_a_control": ch.delta_a_control,
                            "delta_a_sample": ch.delta_a_sample,
                            "inhibition_pct": ch.inhibition,
                        },
                        ch.inhibition,
                        "%",
                        ch.judgement,
                        rec.time,
                    )
                )
    elif scenario.family == "gold":
        for test in scenario.gold_tests():
            for line in test.results:
                out.append(
                    Reading(
                        s,
                        "gold",
                        test.sequence(line.position),
                        line.item_code,
                        None,
                        test.sample_id or None,
                        {
                            "test_no": test.test_no,
                            "line": line.position,
                            "t": line.t,
                            "c": line.c,
                            "tc": line.ratio,
                            "cutoff": line.cutoff,
                            "kit_lot": line.kit_lot,
                            "operator": test.operator,
                        },
                        line.ratio,
                        gold_proto.UNIT,
                        line.judgement,
                        line.completed,
                    )
                )
    elif scenario.family == "spectro":
        for r in scenario.spectro_results():
            out.append(
                Reading(
                    s,
                    "spectro",
                    r.sequence,
                    r.item_code,
                    r.channel,
                    r.sample_id or None,
                    {
                        "absorbance": r.absorbance,
                        "blank": r.blank,
                        "dilution": r.dilution,
                        "mass_g": r.mass_g,
                        "concentration": r.concentration,
                        "wavelength_nm": r.wavelength_nm,
                    },
                    r.concentration,
                    r.unit,
                    r.judgement,
                    r.time,
                )
            )
    else:
        raise ScenarioError(f"unknown family {scenario.family!r}")
    return out


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
