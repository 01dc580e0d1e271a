"""Independent peers: minimalmodbus (RTU over a pty pair) and pyModbusTCP read the spectro simulator;
python-astm's host accepts the gold simulator's traffic, and its sender is accepted by the gold driver."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import ClassVar

import minimalmodbus
import pytest
from astm import asynclib
from astm import client as astm_client
from astm import server as astm_server
from pyModbusTCP.client import ModbusClient
from pyModbusTCP.utils import decode_ieee, word_list_to_long

from instrument_drivers import create_driver
from instrument_drivers.protocols import gold as gold_proto
from instrument_drivers.protocols import spectro as regmap
from simulators.scenario import load
from tests.instruments.harness import TcpBridge, TcpJoin, simulator


def _expected_head(s: object) -> regmap.Result:
    return s.sim.results[s.sim.head]  # type: ignore[attr-defined, no-any-return]


def test_minimalmodbus_reads_the_spectro_simulator_over_a_pty() -> None:
    with simulator("spectro", "pty", count=3, seed=2, baud=9600) as s:
        instrument = minimalmodbus.Instrument(s.driver_url, 1)
        instrument.serial.baudrate = 9600
        instrument.serial.timeout = 1.0
        try:
            assert instrument.read_register(regmap.REG_DEVICE_TYPE, functioncode=4) == regmap.DEVICE_TYPE
            assert instrument.read_string(regmap.REG_SERIAL, 8, functioncode=4).rstrip("\x00") == s.scenario.serial
            assert instrument.read_register(regmap.REG_FIFO_COUNT, functioncode=4) == 3
            for _ in range(3):
                expected = _expected_head(s)
                base = regmap.REG_HEAD
                assert instrument.read_long(base, functioncode=4) == expected.sequence
                assert instrument.read_string(base + 2, 4, functioncode=4).rstrip("\x00") == expected.item_code
                assert instrument.read_register(base + 6, functioncode=4) == expected.channel
                assert instrument.read_float(base + 7, functioncode=4) == expected.absorbance
                assert instrument.read_float(base + 9, functioncode=4) == expected.blank
                assert instrument.read_float(base + 15, functioncode=4) == expected.concentration
                assert instrument.read_register(base + 17, functioncode=4) == expected.wavelength_nm
                assert instrument.read_register(base + 27, functioncode=4) == expected.time.year
                instrument.write_long(regmap.REG_ACK, expected.sequence)  # function 16, two registers
                assert instrument.read_long(regmap.REG_ACK, functioncode=3) == expected.sequence
            assert instrument.read_long(regmap.REG_HEAD, functioncode=4) == 0  # empty
            with pytest.raises(minimalmodbus.IllegalRequestError):
                instrument.write_long(regmap.REG_ACK, 999_999)  # not the head: refused
        finally:
            instrument.serial.close()


def test_pymodbustcp_reads_the_spectro_simulator() -> None:
    with simulator("spectro", "modbus-tcp://127.0.0.1:0", count=2, seed=4) as s:
        port = int(s.driver_url.split(":")[2].split("?")[0])
        client = ModbusClient(host="127.0.0.1", port=port, unit_id=1, timeout=2.0, auto_open=True)
        try:
            ident = client.read_input_registers(regmap.REG_DEVICE_TYPE, regmap.IDENTITY_COUNT)
            assert ident is not None and regmap.Identity.from_registers(ident).serial == s.scenario.serial
            for _ in range(2):
                expected = _expected_head(s)
                regs = client.read_input_registers(regmap.REG_HEAD, regmap.HEAD_COUNT)
                assert regs is not None
                assert word_list_to_long(regs[0:2])[0] == expected.sequence
                assert decode_ieee(word_list_to_long(regs[7:9])[0]) == expected.absorbance
                assert decode_ieee(word_list_to_long(regs[15:17])[0]) == expected.concentration
                assert regs[18] == regmap.JUDGEMENTS.index(expected.judgement)
                assert regmap.decode_head(regs) == expected
                assert client.write_multiple_registers(regmap.REG_ACK, regmap.u32_to_registers(expected.sequence))
            assert client.read_input_registers(regmap.REG_HEAD, 2) == [0, 0]
        finally:
            client.close()


# --- ASTM ------------------------------------------------------------------------------------------------


# python-astm's py3 port still calls Python 2's buffer() when it sends: give it the slice it meant.
asynclib.buffer = lambda data, offset, size: data[offset : offset + size]  # type: ignore[attr-defined]


class _Collecting(astm_server.BaseRecordsDispatcher):
    received: ClassVar[list[list[object]]] = []

    def _default_handler(self, record: list[object]) -> None:
        type(self).received.append(record)


@contextlib.contextmanager
def _asynclib_loop() -> Iterator[None]:
    """Run asynclib's loop in a thread. Create the dispatchers first: the loop iterates the socket map
    without a copy, so a dispatcher added from another thread while it runs kills the loop."""
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            asynclib.loop(timeout=0.05, count=1)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5)
        asynclib.close_all()


def test_python_astm_host_accepts_the_gold_reader() -> None:
    _Collecting.received = []
    with simulator("gold", "socket://127.0.0.1:0", count=6, seed=8) as s:
        host = astm_server.Server("127.0.0.1", 0, dispatcher=_Collecting, timeout=30)
        with _asynclib_loop():
            join = TcpJoin(int(s.driver_url.rsplit(":", 1)[1]), host.socket.getsockname()[1])
            try:
                deadline = time.monotonic() + 30
                while s.sim.pending() and time.monotonic() < deadline:
                    time.sleep(0.05)
            finally:
                join.close()
        assert s.sim.pending() == 0, "every card was acknowledged by the independent host"
        expected = s.expected()
    results = [r for r in _Collecting.received if r[0] == "R"]
    assert len(results) == len(expected)
    for record, reading in zip(results, expected, strict=True):
        # python-astm splits the components itself: ^^^CLB^LOT → [None, None, None, 'CLB', 'LOT']
        assert record[2][3] == reading.item_code
        assert float(record[3][0]) == reading.value
        assert record[13] == reading.instrument_serial


def _as_fields(record: str) -> list[bytes]:
    if record.startswith("H|"):
        return [b"H", b"\\^&", *[f.encode() for f in record.split("|")[2:]]]
    return [f.encode() for f in record.split("|")]


def test_gold_driver_accepts_a_python_astm_sender() -> None:
    scenario = load("gold", seed=13, count=5)
    tests = scenario.records()
    records = [rec for t in tests for rec in gold_proto.message_records(t)]

    def emitter() -> Iterator[list[bytes]]:
        for record in records:
            yield _as_fields(record)

    bridge = TcpBridge()
    got = []
    try:
        # The driver's port is open before the sender bids: opening a port discards what is waiting
        # (pyserial does so for serial and socket:// alike), and python-astm gives up on an unanswered ENQ.
        with create_driver("gold", f"socket://127.0.0.1:{bridge.port_b}") as driver:
            sender = astm_client.Client(emitter, "127.0.0.1", bridge.port_a, timeout=30, flow_map=None)
            with _asynclib_loop():
                for reading in driver.readings(count=5, idle_exit=10):
                    got.append(reading)
                    driver.ack(reading)
                sender.close()
    finally:
        bridge.close()
    expected = [
        (t.sequence(line.position), line.item_code, line.ratio, line.judgement) for t in tests for line in t.results
    ]
    assert [(r.sequence, r.item_code, r.value, r.judgement) for r in got] == expected
