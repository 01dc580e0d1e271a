"""An instrument family is a plug-in: a throw-away family, written here into a temporary folder (driver, codec,
simulator and judgement modules, a registry entry and an installed distribution naming it as an entry point),
passes the shared driver contract, is found through its entry point by another process, and is simulated
over a real socket, acquired, judged by its own judgement module and shown to the reviewer, without any other
project file knowing it.

The family is registered only while one of its tests runs (`registered`), so that no other test of the same
process, e.g. the contract coverage check under xdist, ever sees it."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
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
from simulators.faults import KINDS
from simulators.registry import SIMULATORS, ListenUrlError, create_simulator, open_endpoint
from simulators.scenario import expected_readings, load
from tests.core.helpers import register
from tests.instruments.contract import DriverContract
from tests.instruments.harness import SimThread
from tests.web.helpers import sign_in

CODEC = '''
"""Wire format of the brix refractometer: one ASCII line per result, `R,<serial>,<seq>,<sample>,<item>,<brix>*<crc>`
and LF, where <crc> is the CRC-16/CCITT of everything before `*` as four hex digits. The host answers
`A,<seq>*<crc>` once the reading is stored; until then the instrument sends its oldest result again every
RESEND seconds. Noise before a record on its line is skipped; a line holding no intact record is no record."""

import binascii
import re
from dataclasses import dataclass

BAUD = 9600
RESEND = 2.0  # seconds the instrument waits for an acknowledgement before sending the result again
MAX_LINE = 160  # longer than any record: bytes beyond it without an end of line are noise
CHECKSUM = slice(-5, -1)  # the four hex digits before LF
_RECORD = re.compile(
    rb"R,(?P<serial>[A-Za-z0-9_.-]{1,32}),(?P<seq>[0-9]{1,9}),(?P<sample>[A-Za-z0-9_.-]{0,40}),"
    rb"(?P<item>[A-Z0-9_]{1,16}),(?P<brix>-?[0-9]{1,3}[.][0-9])[*](?P<crc>[0-9A-F]{4})"
)
_ACK = re.compile(rb"A,(?P<seq>[0-9]{1,9})[*](?P<crc>[0-9A-F]{4})")


@dataclass(frozen=True)
class Record:
    serial: str
    seq: int
    sample: str
    item: str
    brix: float


def crc(body: bytes) -> bytes:
    return b"%04X" % binascii.crc_hqx(body, 0xFFFF)


def _line(body: str) -> bytes:
    data = body.encode("ascii")
    return data + b"*" + crc(data) + b"\\n"


def _find(pattern, lead, line):
    start = line.find(lead)
    while start >= 0:
        m = pattern.fullmatch(line, start)
        if m is not None and crc(line[start : m.start("crc") - 1]) == m["crc"]:
            return m
        start = line.find(lead, start + 1)
    return None


def encode(r: Record) -> bytes:
    return _line(f"R,{r.serial},{r.seq},{r.sample},{r.item},{r.brix:.1f}")


def decode(line: bytes) -> Record | None:
    m = _find(_RECORD, b"R,", line)
    if m is None:
        return None
    return Record(m["serial"].decode(), int(m["seq"]), m["sample"].decode(), m["item"].decode(), float(m["brix"]))


def ack(seq: int) -> bytes:
    return _line(f"A,{seq}")


def acked(line: bytes) -> int | None:
    m = _find(_ACK, b"A,", line)
    return None if m is None else int(m["seq"])
'''

DRIVER = '''
"""Driver of the brix refractometer: listens for result lines, acknowledges each once it is stored."""

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
        self._link = SerialLink(self.url, self.default_baud)  # the instrument only talks: nothing to ask it
        self._buffer = b""

    def _disconnect(self):
        if self._link is not None:
            self._link.close()
            self._link = None

    def _fetch(self, timeout):
        if self._link is None:
            raise LinkError("not connected")
        deadline = time.monotonic() + timeout
        while True:
            line, newline, rest = self._buffer.partition(b"\\n")
            if newline:
                self._buffer = rest
                record = codec.decode(line.rstrip(b"\\r"))
                if record is None:
                    self.stats["bad_lines"] += 1
                    continue
                self.serial = record.serial
                reading = Reading(
                    record.serial, self.family, record.seq, record.item, None, record.sample or None,
                    {"brix": record.brix}, record.brix, "°Bx",
                )
                return Unit([reading], token=record.seq)
            self._buffer = self._buffer[-codec.MAX_LINE :]
            if time.monotonic() >= deadline:
                return None
            self._buffer += self._link.read(deadline)

    def _release(self, unit):
        if self._link is None:
            raise LinkError("not connected")
        self._link.write(codec.ack(int(unit.token)))
'''

SIMULATOR = '''
"""Simulated brix refractometer: sends its oldest result until the host acknowledges it, with the faults a
line protocol can suffer (there is no request it could answer "busy" to)."""

import random
import time

import brix_codec as codec
from instrument_drivers.reading import Reading
from simulators.base import Simulator


class BrixSimulator(Simulator):
    family = "brix"
    response_timeout = codec.RESEND  # the instrument's own wait for an acknowledgement; `slow` relates to it
    response_floor = 0.1

    @classmethod
    def generate(cls, scenario):
        rng = random.Random(f"values:brix:{scenario.seed}")
        return [
            codec.Record(
                scenario.serial, scenario.first_sequence + n, it.sample or "", it.item or "BRIX",
                round(rng.uniform(20.5, 35.0) if it.result == "positive" else rng.uniform(5.0, 19.5), 1),
            )
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
        self.head = 0  # the oldest result not acknowledged yet
        self.reset_link_state()

    def pending(self):
        return len(self.records) - self.head

    def reset_link_state(self):
        self._inbox = b""
        self._sent_at = None  # nothing sent on this connection yet

    def serve(self, line):
        while not self.stopping():
            if self.exit_when_done and self.done():
                return
            due = self._sent_at is None or time.monotonic() - self._sent_at >= self.answer_timeout()
            if self.pending() and due:
                self.link_faults()
                frame = codec.encode(self.records[self.head])
                self.faults.send(line, frame, checksum=codec.CHECKSUM, slow=self.slow_delay())
                self._sent_at = time.monotonic()
            *lines, self._inbox = (self._inbox + line.read(0.01)).split(b"\\n")
            self._inbox = self._inbox[-codec.MAX_LINE :]
            for text in lines:
                self.heard(text)

    def heard(self, text):
        seq = codec.acked(text)
        if seq is None or self.faults.hit("corrupt"):  # garbled on its way in: as if never heard
            return
        if self.pending() and seq == self.records[self.head].seq:
            self.head += 1
            self.released_one(seq)
            self._sent_at = None  # the next result goes out at once
'''

JUDGEMENT = '''
"""Judgement of the brix family: above the limit's sugar content is positive."""

from lims.judgement import FiniteFloat, JudgeContext, Judgement, Outcome, RawFigures


REASONS = {  # this family's reason messages, code -> English message id
    "brix_positive": "{brix} °Bx is above the limit of {threshold} °Bx",
    "brix_negative": "{brix} °Bx is within the limit of {threshold} °Bx",
}


class Raw(RawFigures):
    brix: FiniteFloat


def judge_raw(raw: Raw, context: JudgeContext) -> Judgement:
    threshold = context.limit if context.limit is not None else float(context.method["threshold"])
    outcome = Outcome.POSITIVE if raw.brix > threshold else Outcome.NEGATIVE
    return Judgement(
        outcome, raw.brix, "°Bx", f"brix_{outcome.value}", {"brix": raw.brix, "threshold": threshold},
        {"brix": raw.brix, "threshold": threshold},
    )
'''

ENTRY = '''
"""The brix family's registry entry: what the distribution's entry point names."""

from instrument_drivers.family_registry import FamilySpec

SPEC = FamilySpec(
    name="brix",
    driver="brix_driver:BrixDriver",
    codec="brix_codec",
    simulator="brix_simulator:BrixSimulator",
    judgement="brix_judgement",
    serial_prefix="BRX",
    default_baud=9600,
)
'''

MODULES = {
    "brix_codec": CODEC,
    "brix_driver": DRIVER,
    "brix_simulator": SIMULATOR,
    "brix_judgement": JUDGEMENT,
    "brix_family": ENTRY,
}
DIST_INFO = {  # an installed distribution, as `pip install` leaves it: its entry point registers the family
    "METADATA": "Metadata-Version: 2.1\nName: brix-refractometer\nVersion: 1.0\n",
    "entry_points.txt": f"[{family_registry.ENTRY_POINT_GROUP}]\nbrix = brix_family:SPEC\n",
}
ITEMS = {
    "food_categories": [{"code": "FRUIT", "name_zh": "水果", "name_en": "Fruit", "edible_agricultural": True}],
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


@dataclass(frozen=True)
class Plugin:
    """The family on disk: `modules` is on this process's sys.path; `installed` holds its distribution's
    metadata and is only ever put on another process's path (here the registry read its entry points long
    ago, and the family must stay unregistered outside its own tests)."""

    modules: Path
    installed: Path
    spec: FamilySpec

    def env(self) -> dict[str, str]:
        """PYTHONPATH of a process that has the family installed."""
        path = [str(self.modules), str(self.installed), *filter(None, [os.environ.get("PYTHONPATH")])]
        return {"PYTHONPATH": os.pathsep.join(path)}


@pytest.fixture(scope="module")
def plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plugin]:
    """The family's modules written into a temporary folder on sys.path (not registered); gone afterwards."""
    root = tmp_path_factory.mktemp("brix")
    modules, installed = root / "modules", root / "installed"
    dist_info = installed / "brix_refractometer-1.0.dist-info"
    dist_info.mkdir(parents=True)
    modules.mkdir()
    for name, text in MODULES.items():
        (modules / f"{name}.py").write_text(text.lstrip(), encoding="utf-8")
    for name, text in DIST_INFO.items():
        (dist_info / name).write_text(text, encoding="utf-8")
    sys.path.insert(0, str(modules))
    importlib.invalidate_caches()
    try:
        yield Plugin(modules, installed, importlib.import_module("brix_family").SPEC)
    finally:
        family_registry.unregister("brix")
        sys.path.remove(str(modules))
        for name in MODULES:
            sys.modules.pop(name, None)


@contextlib.contextmanager
def registered(spec: FamilySpec) -> Iterator[FamilySpec]:
    """`spec` registered for the block, unregistered after it (whatever happens)."""
    assert spec.name not in family_registry.names(), "left registered by an earlier test"
    family_registry.register(spec)
    try:
        yield spec
    finally:
        family_registry.unregister(spec.name)


class TestBrixContract(DriverContract):
    """The shared driver contract, run against the plug-in family while it is registered."""

    family = "brix"
    transports = ("socket://127.0.0.1:0", "pty")
    faults = tuple(kind for kind in KINDS if kind != "busy")  # the instrument is never asked anything
    identifies_on_connect = False  # the driver only listens
    registered_at_run_time = True

    @pytest.fixture(autouse=True)
    def _registered(self, plugin: Plugin) -> Iterator[None]:
        self.plugin = plugin
        with registered(plugin.spec):
            yield

    def consumer_env(self) -> dict[str, str]:
        return self.plugin.env()


def test_an_installed_plug_in_is_found_through_its_entry_point(plugin: Plugin) -> None:
    code = (
        "from instrument_drivers import create_driver, family_registry\n"
        "print(family_registry.names(), family_registry.spec('brix').serial_prefix,"
        " type(create_driver('brix', 'socket://127.0.0.1:9')).__name__)"
    )
    env = {**os.environ, **plugin.env()}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    names = sorted(["brix", *family_registry.names()])
    assert done.stdout.split() == [*str(names).split(), "BRX", "BrixDriver"]
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(plugin.modules), os.environ.get("PYTHONPATH")]))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert "no instrument family 'brix'" in done.stderr, "importable modules alone register nothing"
    assert "brix" not in family_registry.names(), "this process never read the distribution"


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
    plugin: Plugin, tmp_path: Path, app: Any, client: TestClient, headers: dict, engine: Engine
) -> None:
    reference = _reference_folder(tmp_path)
    with (
        Session(engine) as session,
        pytest.raises(Invalid, match=f"unknown family 'brix'; known: {', '.join(family_registry.names())}"),
    ):
        reference_data.load_reference(session, SYSTEM, reference)  # before it is registered

    with registered(plugin.spec):
        assert "brix" in instrument_drivers.families() and "brix" in SIMULATORS
        assert instrument_drivers.DRIVERS["brix"] == ("brix_driver", "BrixDriver")
        with pytest.raises(ListenUrlError, match="serial protocol"):  # its spec says: serial only
            open_endpoint("brix", "modbus-tcp://127.0.0.1:0")
        with Session(engine) as session:
            reference_data.load_reference(session, SYSTEM, reference)
            session.commit()

        sweet, plain = (
            register(client, headers["tester"], category_code="FRUIT", product_name="荔枝")["label_id"]
            for _ in range(2)
        )
        scenario_file = tmp_path / "scenario.json"
        readings = [{"sample": sweet, "item": "BRIX", "result": "positive"}, {"sample": plain, "item": "BRIX"}]
        scenario_file.write_text(json.dumps({"serial": "BRX-0001", "readings": readings}), encoding="utf-8")
        scenario = load("brix", scenario_file=scenario_file)
        expected = expected_readings(scenario)
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
            (r.sequence, r.sample_label_id, r.raw) for r in expected
        ]
        sweet_brix, plain_brix = (r.value for r in expected)
        assert sweet_brix is not None and plain_brix is not None and plain_brix < 20 < sweet_brix
        assert [(s.judgement, s.value) for s in stored] == [("positive", sweet_brix), ("negative", plain_brix)]

        results = client.get("/api/v1/results", headers=headers["reviewer"]).json()
        shown = {r["sample_label_id"]: (r["item_code"], r["judgement"], r["value"]) for r in results}
        assert shown[sweet] == ("BRIX", "positive", sweet_brix) and shown[plain] == ("BRIX", "negative", plain_brix)
        page = sign_in(app, "reviewer").get("/review")
        assert page.status_code == 200 and sweet in page.text and plain in page.text
        # The reasons come from the family's own messages (untranslated, so in their English).
        assert f"{sweet_brix} °Bx is above the limit of 20.0 °Bx" in page.text
        assert f"{plain_brix} °Bx is within the limit of 20.0 °Bx" in page.text
    assert "brix" not in instrument_drivers.families()
