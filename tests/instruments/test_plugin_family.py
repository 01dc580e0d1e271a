"""An instrument family is a plug-in: a throw-away family, written here into a temporary folder (driver, codec,
simulator and judgement modules) and registered at run time, is simulated over a real socket, acquired,
judged by its own judgement module and shown to the reviewer, without any other project file knowing it."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

import instrument_drivers
from instrument_drivers import family_registry
from instrument_drivers.family_registry import FamilySpec
from lims.services.core.audit import SYSTEM
from lims.services.core.errors import Invalid
from lims.services.reference import reference_data
from lims.services.results import ingest
from simulators.registry import SIMULATORS, ListenUrlError, create_simulator, open_endpoint
from simulators.scenario import expected_readings, load
from tests.core.helpers import register
from tests.instruments.harness import SimThread
from tests.web.helpers import sign_in

CODEC = '''
"""Wire format of the brix refractometer: `R,<serial>,<seq>,<sample>,<item>,<brix>` lines; the host answers
`A,<seq>` once the reading is stored."""

from dataclasses import dataclass

BAUD = 9600


@dataclass(frozen=True)
class Record:
    serial: str
    seq: int
    sample: str
    item: str
    brix: float


def encode(r: Record) -> bytes:
    return f"R,{r.serial},{r.seq},{r.sample},{r.item},{r.brix:.1f}\\n".encode()


def decode(line: bytes) -> Record:
    kind, serial, seq, sample, item, brix = line.decode().strip().split(",")
    assert kind == "R"
    return Record(serial, int(seq), sample, item, float(brix))


def ack(seq: int) -> bytes:
    return f"A,{seq}\\n".encode()


def acked(line: bytes) -> int | None:
    kind, _, seq = line.decode().strip().partition(",")
    return int(seq) if kind == "A" and seq.isdigit() else None
'''

DRIVER = '''
"""Driver of the brix refractometer: reads record lines, acknowledges each once stored."""

import time

import brix_codec as codec
from instrument_drivers.base import Driver, Unit
from instrument_drivers.errors import LinkError
from instrument_drivers.reading import Reading
from instrument_drivers.transport import SerialLink


class BrixDriver(Driver):
    family = "brix"
    default_baud = codec.BAUD

    def __init__(self, url, **options):
        super().__init__(url, **options)
        self._link = None
        self._buffer = b""

    def _connect(self):
        self._link = SerialLink(self.url, self.default_baud)
        self._buffer = b""

    def _disconnect(self):
        if self._link is not None:
            self._link.close()
            self._link = None

    def _fetch(self, timeout):
        if self._link is None:
            raise LinkError("not connected")
        deadline = time.monotonic() + timeout
        while b"\\n" not in self._buffer:
            chunk = self._link.read(deadline)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\\n")
        r = codec.decode(line)
        self.serial = r.serial
        reading = Reading(r.serial, self.family, r.seq, r.item, None, r.sample or None, {"brix": r.brix}, r.brix, "°Bx")
        return Unit([reading], token=r.seq)

    def _release(self, unit):
        if self._link is None:
            raise LinkError("not connected")
        self._link.write(codec.ack(int(unit.token)))
'''

SIMULATOR = '''
"""Simulated brix refractometer: sends its oldest record until the host acknowledges it."""

import time

import brix_codec as codec
from instrument_drivers.reading import Reading
from simulators.base import Simulator


class BrixSimulator(Simulator):
    family = "brix"

    @classmethod
    def generate(cls, scenario):
        return [
            codec.Record(scenario.serial, scenario.first_sequence + n, it.sample or "", it.item or "BRIX",
                         31.5 if it.result == "positive" else 12.5)
            for n, it in enumerate(scenario.intents)
        ]

    @classmethod
    def expected(cls, scenario):
        return [
            Reading(r.serial, cls.family, r.seq, r.item, None, r.sample or None, {"brix": r.brix}, r.brix, "°Bx")
            for r in cls.generate(scenario)
        ]

    def __post_init__(self):
        super().__post_init__()
        self.records = self.generate(self.scenario)
        self.head = 0

    def pending(self):
        return len(self.records) - self.head

    def serve(self, line):
        buffer, sent_at = b"", 0.0
        while not self.stopping():
            if self.exit_when_done and self.done():
                return
            if self.pending() and time.monotonic() - sent_at > 0.3:
                line.write(codec.encode(self.records[self.head]))
                sent_at = time.monotonic()
            buffer += line.read(0.05)
            while b"\\n" in buffer:
                text, _, buffer = buffer.partition(b"\\n")
                seq = codec.acked(text)
                if self.pending() and seq == self.records[self.head].seq:
                    self.head += 1
                    self.released_one(seq)
                    sent_at = 0.0
'''

JUDGEMENT = '''
"""Judgement of the brix family: above the limit's sugar content is positive."""

from lims.judgement import FiniteFloat, JudgeContext, Judgement, Outcome, RawFigures


class Raw(RawFigures):
    brix: FiniteFloat


def judge_raw(raw: Raw, context: JudgeContext) -> Judgement:
    threshold = context.limit if context.limit is not None else float(context.method["threshold"])
    outcome = Outcome.POSITIVE if raw.brix > threshold else Outcome.NEGATIVE
    return Judgement(
        outcome, raw.brix, "°Bx", f"brix_{outcome.value}", f"{raw.brix} °Bx against {threshold}",
        f"糖度 {raw.brix} °Bx，判定值 {threshold}", {"brix": raw.brix, "threshold": threshold},
    )
'''

SPEC = FamilySpec(
    name="brix",
    driver="brix_driver:BrixDriver",
    codec="brix_codec",
    simulator="brix_simulator:BrixSimulator",
    judgement="brix_judgement",
    serial_prefix="BRX",
    default_baud=9600,
)
ITEMS = {
    "food_categories": [{"code": "FRUIT", "name_zh": "水果", "name_en": "Fruit"}],
    "items": [
        {
            "code": "BRIX",
            "name_zh": "糖度",
            "name_en": "Sugar content",
            "family": "brix",
            "method_standard": "test method",
            "unit": "°Bx",
            "method": {"threshold": 20.0},
        }
    ],
    "limits": [{"item": "BRIX", "categories": ["FRUIT"], "limit": 20.0, "unit": "°Bx", "source": "test: > 20 °Bx"}],
}
MODULES = ("brix_codec", "brix_driver", "brix_simulator", "brix_judgement")


@pytest.fixture
def plugin_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The family's four modules in a folder on sys.path (not registered yet); gone afterwards."""
    folder = tmp_path / "plugin"
    folder.mkdir()
    for name, text in zip(MODULES, (CODEC, DRIVER, SIMULATOR, JUDGEMENT), strict=True):
        (folder / f"{name}.py").write_text(textwrap.dedent(text), encoding="utf-8")
    monkeypatch.syspath_prepend(str(folder))
    try:
        yield folder
    finally:
        family_registry.unregister("brix")
        for name in MODULES:
            sys.modules.pop(name, None)


def _reference_folder(tmp_path: Path) -> Path:
    """The shipped district with a brix refractometer added, and the brix item on fruit."""
    folder = tmp_path / "reference"
    folder.mkdir()
    district = yaml.safe_load((reference_data.shipped_reference_dir() / "district.yaml").read_text(encoding="utf-8"))
    district["instruments"].append(
        {"serial": "BRX-0001", "family": "brix", "model": "refractometer", "calibration_due": "2099-12-31"}
    )
    (folder / "district.yaml").write_text(yaml.safe_dump(district, allow_unicode=True), encoding="utf-8")
    (folder / "items.yaml").write_text(yaml.safe_dump(ITEMS, allow_unicode=True), encoding="utf-8")
    return folder


def test_a_family_registered_at_run_time_is_simulated_acquired_judged_and_shown(
    plugin_folder: Path, tmp_path: Path, app: Any, client: TestClient, headers: dict, engine: Engine
) -> None:
    reference = _reference_folder(tmp_path)
    with Session(engine) as session, pytest.raises(Invalid, match=r"unknown family 'brix'; known: gold, pesticide"):
        reference_data.load_reference(session, SYSTEM, reference)  # before it is registered

    family_registry.register(SPEC)
    assert "brix" in instrument_drivers.families() and "brix" in SIMULATORS
    assert instrument_drivers.DRIVERS["brix"] == ("brix_driver", "BrixDriver")
    with pytest.raises(ListenUrlError, match="serial protocol"):  # its spec says: serial only
        open_endpoint("brix", "modbus-tcp://127.0.0.1:0")
    with Session(engine) as session:
        reference_data.load_reference(session, SYSTEM, reference)
        session.commit()

    sweet, plain = (
        register(client, headers["tester"], category_code="FRUIT", product_name="荔枝")["label_id"] for _ in range(2)
    )
    scenario_file = tmp_path / "scenario.json"
    readings = [{"sample": sweet, "item": "BRIX", "result": "positive"}, {"sample": plain, "item": "BRIX"}]
    scenario_file.write_text(json.dumps({"serial": "BRX-0001", "readings": readings}), encoding="utf-8")
    scenario = load("brix", scenario_file=scenario_file)
    endpoint, _framing, url = open_endpoint("brix", "socket://127.0.0.1:0")
    handle = SimThread(create_simulator("brix", scenario, endpoint), url, scenario)
    try:
        with instrument_drivers.create_driver("brix", url) as driver:
            assert ingest.acquire(engine, driver, count=2, idle_exit=10) == 2
    finally:
        handle.close()
    assert handle.sim.released == 2  # both acknowledged after their commit

    with Session(engine) as session:
        stored = ingest.stored_for(session, "BRX-0001")
    assert [(s.reading.sequence, s.reading.sample_label_id, s.reading.raw) for s in stored] == [
        (r.sequence, r.sample_label_id, r.raw) for r in expected_readings(scenario)
    ]
    assert [(s.judgement, s.value) for s in stored] == [("positive", 31.5), ("negative", 12.5)]

    results = client.get("/api/v1/results", headers=headers["reviewer"]).json()
    shown = {r["sample_label_id"]: (r["item_code"], r["judgement"], r["value"]) for r in results}
    assert shown[sweet] == ("BRIX", "positive", 31.5) and shown[plain] == ("BRIX", "negative", 12.5)
    page = sign_in(app, "reviewer").get("/review")
    assert page.status_code == 200 and sweet in page.text and plain in page.text
