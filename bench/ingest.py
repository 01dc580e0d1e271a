"""Ingestion speed: readings/s for parse-only and for parse + store, each next to a baseline measured in
the same run.

* parse-only: the bytes an instrument puts on the wire for N readings (frames as the simulators build
  them) → the driver's parser and decoders → instrument records of `Reading`s. Baseline: the line rate,
  i.e. how many readings per second the same bytes (both directions of the exchange) can carry at 115200
  baud 8N1.
* parse + store: the same parsing, and each instrument record (a pesticide run of up to 8 channels, a
  gold card of up to its panel's lines, one spectrophotometer result) stored through
  `lims.services.results.ingest.store_record` in one transaction, as `lims acquire` does (samples registered
  beforehand, so each reading becomes a judged result). Baselines: bare INSERTs of the same rows (serial,
  sequence, reading as JSON) into a plain table of the same database file, once with one commit per
  reading and once with one commit per record (the same transactions as parse + store).

Both sides run at the same durability setting, the application's own: SQLite in WAL mode with
synchronous=NORMAL (`lims.db.make_engine`), or PostgreSQL with its server settings (synchronous_commit as
configured, on by default). The PostgreSQL database named is emptied first.

    .venv/bin/python bench/ingest.py [--count 1000] [--db var/bench/ingest.db | --db postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from instrument_drivers.gold import readings_from_test
from instrument_drivers.pesticide import readings_from_record
from instrument_drivers.protocols import astm
from instrument_drivers.protocols import gold as gold_proto
from instrument_drivers.protocols import pesticide as pest
from instrument_drivers.protocols import spectro as regmap
from instrument_drivers.reading import Reading
from instrument_drivers.spectro import reading_from_result
from instrument_drivers.transport import LineSettings
from simulators.scenario import Scenario, load
from simulators.spectro import rtu_frame

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
LINE = LineSettings(115200)
ITEMS = {"pesticide": ("OPC", "VEG_LEAF"), "gold": ("CLB", "PORK"), "spectro": ("NO2", "CURED_MEAT")}


# --- wire bytes per family: what the instrument sends (to parse) and the whole exchange (line rate) -----


def pesticide_wire(s: Scenario) -> tuple[bytes, int]:
    frames = [pest.encode_frame(pest.RSP_RECORD, r.encode()) for r in s.records()]
    host = len(pest.encode_frame(pest.CMD_POLL)) + len(pest.encode_ack(1)) + len(pest.encode_acked(1, 0))
    return b"".join(frames), sum(map(len, frames)) + host * len(frames)


def pesticide_parse(wire: bytes, serial: str) -> list[list[Reading]]:
    parser = pest.FrameParser()
    out: list[list[Reading]] = []
    for i in range(0, len(wire), 4096):  # as it arrives from the port
        parser.feed(wire[i : i + 4096])
        for frame in parser.frames():
            out.append(readings_from_record(serial, pest.Record.decode(frame.data)))
    return out


def gold_wire(s: Scenario) -> tuple[bytes, int]:
    frames = [f for t in s.records() for f in astm.record_frames(gold_proto.message_records(t))]
    control = 3 * len(s.records())  # ENQ, ACK, EOT around each message
    return b"".join(frames), sum(map(len, frames)) + len(frames) + control  # + one ACK per frame


def gold_parse(wire: bytes, serial: str) -> list[list[Reading]]:
    reader, assembler = astm.LinkReader(), astm.RecordAssembler()
    out: list[list[Reading]] = []
    message: list[str] = []
    for i in range(0, len(wire), 4096):
        for token in reader.feed(wire[i : i + 4096]):
            for raw in assembler.add(token.text, token.final):
                record = raw.decode("latin-1")
                message = [record] if record.startswith("H") else [*message, record]
                if record.startswith("L"):
                    out.append(readings_from_test(gold_proto.parse_message(message)))
    return out


def spectro_wire(s: Scenario) -> tuple[bytes, int]:
    answers = [
        rtu_frame(bytes((1, 4, 2 * regmap.HEAD_COUNT)) + struct.pack(">33H", *r.registers())) for r in s.records()
    ]
    per_reading = 8 + 13 + 8  # read request, acknowledge request and its answer
    return b"".join(answers), sum(map(len, answers)) + per_reading * len(answers)


def spectro_parse(wire: bytes, serial: str) -> list[list[Reading]]:
    from pymodbus.framer import FramerRTU
    from pymodbus.pdu import DecodePDU

    framer = FramerRTU(DecodePDU(is_server=False))
    out: list[list[Reading]] = []
    size = 5 + 2 * regmap.HEAD_COUNT
    for i in range(0, len(wire), size):  # the driver receives one answer per request
        _used, pdu = framer.handleFrame(wire[i : i + size], 1, 0)
        result = regmap.decode_head(list(pdu.registers))
        assert result is not None
        out.append([reading_from_result(serial, result)])
    return out


FAMILIES: dict[str, tuple[Callable[[Scenario], tuple[bytes, int]], Callable[[bytes, str], list[list[Reading]]]]] = {
    "pesticide": (pesticide_wire, pesticide_parse),
    "gold": (gold_wire, gold_parse),
    "spectro": (spectro_wire, spectro_parse),
}


def best_of(runs: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def parse_only(count: int) -> list[tuple[str, float, float]]:
    rows = []
    for family, (wire_of, parse) in FAMILIES.items():
        scenario = load(family, seed=1, count=count)
        wire, exchange_bytes = wire_of(scenario)
        readings = sum(map(len, parse(wire, scenario.serial)))
        assert readings == count, (family, readings)
        seconds = best_of(3, lambda: parse(wire, scenario.serial))  # noqa: B023
        line_rate = count / (exchange_bytes * LINE.char_time())
        rows.append((family, count / seconds, line_rate))
    return rows


# --- parse + store ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreRow:
    family: str
    records: int
    stored: float  # readings/s
    bare_per_reading: float  # readings/s
    bare_per_record: float  # readings/s


def _fresh_engine(db: str) -> Engine:
    """An engine on an empty database: the SQLite file removed, or the PostgreSQL schema dropped."""
    import sqlalchemy as sa

    from lims.db import make_engine

    if db.startswith("postgresql"):
        engine = make_engine(db)
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        return engine
    path = Path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
    return make_engine(f"sqlite:///{path}")


def parse_and_store(count: int, db: str, scratch: Path) -> list[StoreRow]:
    import sqlalchemy as sa
    from sqlmodel import Session, select

    from lims.models import District, Instrument, Sample
    from lims.models.samples import SampleCreate
    from lims.services.core import schema
    from lims.services.core.audit import SYSTEM, Actor
    from lims.services.reference import reference_data
    from lims.services.results import ingest
    from lims.services.samples import sampling

    engine = _fresh_engine(db)
    schema.upgrade(engine)
    with Session(engine) as session:
        reference_data.load_reference(session, SYSTEM)
        session.commit()
        district = session.exec(select(District)).first()
        assert district is not None and district.id is not None
        actor = ingest.gateway_actor(session, district.id)
        serials = {i.family: i.serial for i in session.exec(select(Instrument))}
        session.commit()
    rows = []
    base_day = datetime.now(UTC).replace(hour=10, minute=0, second=0, microsecond=0)
    bare = sa.Table(
        "bench_bare_reading",
        sa.MetaData(),
        sa.Column("serial", sa.String),
        sa.Column("seq", sa.Integer),
        sa.Column("body", sa.Text),
    )
    bare.create(engine, checkfirst=True)
    for family, (wire_of, parse) in FAMILIES.items():
        item, category = ITEMS[family]
        labels = []
        with Session(engine) as session:
            for n in range(count):  # at most 999 labels a day: spread the samples over past days
                collected = base_day - timedelta(days=1 + 10 * list(FAMILIES).index(family) + n // 900)
                sample = sampling.register(
                    session,
                    actor,
                    SampleCreate(
                        point_code="P05", product_name="bench", category_code=category, collected_at=collected
                    ),
                )
                labels.append(sample.label_id)
            session.commit()
        scenario_file = scratch / f"{family}-scenario.json"
        scenario_file.write_text(json.dumps({"readings": [{"sample": lb, "item": item} for lb in labels]}))
        scenario = load(family, scenario_file=scenario_file, serial=serials[family])
        wire, _ = wire_of(scenario)
        t0 = time.perf_counter()
        stored = 0
        gateways: dict[int, Actor] = {}  # kept from one record to the next, as `ingest.acquire` does
        for record in parse(wire, scenario.serial):
            done = ingest.store_record(engine, record, gateways=gateways)
            stored += sum(result.result_id is not None for result in done)
        store_seconds = time.perf_counter() - t0
        assert stored == count, f"{family}: only {stored} of {count} readings became results"
        records = parse(wire, scenario.serial)
        per_reading = [[reading] for record in records for reading in record]
        bare_seconds = [bare_inserts(engine, bare, batches) for batches in (per_reading, records)]
        rows.append(StoreRow(family, len(records), count / store_seconds, *(count / t for t in bare_seconds)))
        with Session(engine) as session:
            assert session.exec(select(sa.func.count()).select_from(Sample)).one() >= count
    engine.dispose()
    return rows


def bare_inserts(engine: Engine, table: Table, transactions: list[list[Reading]]) -> float:
    """Seconds to insert the readings as plain rows, one commit per list."""
    t0 = time.perf_counter()
    for readings in transactions:
        with engine.begin() as conn:
            for reading in readings:
                conn.execute(
                    table.insert().values(
                        serial=reading.instrument_serial, seq=reading.sequence, body=json.dumps(reading.as_dict())
                    )
                )
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=1000, help="readings per family (default 1000)")
    p.add_argument(
        "--db",
        default=str(ROOT / "var" / "bench" / "ingest.db"),
        help="a SQLite file (default var/bench/ingest.db) or a PostgreSQL URL, emptied first",
    )
    p.add_argument("--parse-only", action="store_true", help="skip the database part")
    args = p.parse_args(argv)
    print(f"{args.count} readings per family; line rate at {LINE.baudrate} baud 8N1\n")
    print(f"{'family':<10} {'parse-only/s':>14} {'line rate/s':>12} {'ratio':>8}")
    for family, parsed, line in parse_only(args.count):
        print(f"{family:<10} {parsed:>14,.0f} {line:>12,.0f} {parsed / line:>7.0f}x")
    if args.parse_only:
        return 0
    scratch = ROOT / "var" / "bench"
    scratch.mkdir(parents=True, exist_ok=True)
    shown = args.db.split("@")[-1] if args.db.startswith("postgresql") else args.db
    print(f"\nparse + store: one transaction per instrument record ({shown})")
    print(
        f"{'family':<10} {'records':>8} {'parse+store/s':>14} "
        f"{'bare insert/s, commit per reading':>34} {'ratio':>6} {'per record':>11} {'ratio':>6}"
    )
    for row in parse_and_store(args.count, args.db, scratch):
        print(
            f"{row.family:<10} {row.records:>8} {row.stored:>14,.0f} {row.bare_per_reading:>34,.0f} "
            f"{row.stored / row.bare_per_reading:>6.2f} {row.bare_per_record:>11,.0f} "
            f"{row.stored / row.bare_per_record:>6.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
