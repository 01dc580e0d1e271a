"""Units: URLs, timers, registry, codecs, fault specs, scenarios and the simulate command (the driver
lifecycle is in the driver contract, tests/instruments/contract.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from instrument_drivers import BadUrlError, UnknownDriverError, create_driver, driver_class, families
from instrument_drivers.protocols import astm
from instrument_drivers.protocols import gold as gold_proto
from instrument_drivers.protocols import pesticide as pest
from instrument_drivers.protocols import spectro as regmap
from instrument_drivers.timers import ENV_VAR, scaled, timer_scale
from instrument_drivers.transport import LineSettings, parse_modbus_url, split_options
from simulators.faults import FaultPlan, FaultSpecError
from simulators.registry import ListenUrlError, open_endpoint
from simulators.scenario import ScenarioError, expected_readings, load

# --- URLs -----------------------------------------------------------------------------------------------


def test_modbus_urls() -> None:
    tcp = parse_modbus_url("modbus-tcp://127.0.0.1:5020?unit=7")
    assert (tcp.kind, tcp.host, tcp.port, tcp.unit) == ("tcp", "127.0.0.1", 5020, 7)
    rtu = parse_modbus_url("modbus-rtu:///dev/ttyUSB0?baud=19200&unit=3&parity=E")
    assert (rtu.kind, rtu.serial_url, rtu.unit) == ("rtu", "/dev/ttyUSB0", 3)
    assert rtu.line == LineSettings(19200, "E", 8, 1)
    over_tcp = parse_modbus_url("modbus-rtu://socket://10.0.0.5:4001?baud=9600")
    assert (over_tcp.serial_url, over_tcp.unit, over_tcp.line) == ("socket://10.0.0.5:4001", 1, LineSettings(9600))
    assert parse_modbus_url("/dev/pts/3").kind == "rtu"
    for bad in (
        "modbus-tcp://nohost",
        "modbus-tcp://h:1?unit=0",
        "modbus-tcp://h:1?unit=x",
        "ftp://x",
        "modbus-rtu:///dev/x?baud=fast",
        "modbus-rtu:///dev/x?parity=Q",
    ):
        with pytest.raises(BadUrlError):
            parse_modbus_url(bad)


def test_our_line_options_are_taken_off_serial_urls() -> None:
    assert split_options("socket://h:1?baud=9600&logging=debug", ("baud",)) == (
        "socket://h:1?logging=debug",
        {"baud": "9600"},
    )
    assert split_options("/dev/ttyUSB0", ("baud",)) == ("/dev/ttyUSB0", {})
    assert LineSettings(9600).char_time() == pytest.approx(10 / 9600)


def test_timer_scale(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, "0.1")
    assert timer_scale() == 0.1 and scaled(15) == pytest.approx(1.5) and scaled(1, floor=0.25) == 0.25
    monkeypatch.delenv(ENV_VAR)
    assert timer_scale() == 1.0 and scaled(astm.SENDER_REPLY_TIMEOUT) == 15.0
    for bad in ("0", "-1", "fast"):
        monkeypatch.setenv(ENV_VAR, bad)
        with pytest.raises(ValueError, match=ENV_VAR):
            timer_scale()


# --- registry -----------------------------------------------------------------------------------------


def test_registry_is_lazy_and_complete() -> None:
    code = "import sys, instrument_drivers; print(any(m.startswith('pymodbus') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    assert families() == ["card-photo", "gold", "pesticide", "spectro"]
    assert {driver_class(f).family for f in families()} == set(families())
    with pytest.raises(UnknownDriverError):
        driver_class("ph-meter")


# --- codecs: edges ---------------------------------------------------------------------------------------


def test_pesticide_structure_errors() -> None:
    record = load("pesticide", seed=2, count=3).records()[0]
    data = bytearray(record.encode())
    with pytest.raises(pest.FrameError, match="must be"):
        pest.Record.decode(bytes(data[:-1]))  # one byte short of what the mask says
    bad_judgement = bytearray(data)
    bad_judgement[pest.RECORD_HEAD.size + 16] = 7
    with pytest.raises(pest.FrameError, match="judgement"):
        pest.Record.decode(bytes(bad_judgement))
    bad_date = bytearray(data)
    bad_date[5] = 13  # month 13
    with pytest.raises(pest.FrameError, match="date"):
        pest.Record.decode(bytes(bad_date))
    with pytest.raises(ValueError):
        pest.encode_frame(pest.RSP_RECORD, b"\x00" * (pest.MAX_DATA + 1))
    with pytest.raises(pest.FrameError):
        pest.Info.decode(b"\x00" * pest.INFO.size)


def test_astm_escapes_and_frame_numbers() -> None:
    text = "a|b^c\\d&e"
    assert astm.unescape(astm.escape(text)) == text
    assert astm.escape(text) == "a&F&b&S&c&R&d&E&e"
    frames = astm.record_frames(["X" * 10] * 9)
    assert [astm.check_frame(f).fn for f in frames] == [1, 2, 3, 4, 5, 6, 7, 0, 1]
    long_frames = astm.record_frames(["Y" * 500])
    assert [len(astm.check_frame(f).text) for f in long_frames] == [240, 240, 21]
    assert [astm.check_frame(f).final for f in long_frames] == [False, False, True]
    spoilt = bytearray(frames[0])
    spoilt[5] ^= 0x01
    assert astm.check_frame(bytes(spoilt)).kind == "bad"


def test_astm_link_reader_controls_and_interrupted_frames() -> None:
    frame = astm.record_frames(["H|\\^&"])[0]
    tokens = astm.LinkReader().feed(b"\x05" + frame[:5] + b"\x04" + frame + b"junk\x06")
    assert [t.kind for t in tokens] == ["ENQ", "bad", "EOT", "frame", "ACK"]
    assert not astm.looks_like_frame(tokens[1].raw)


def test_gold_message_errors() -> None:
    scenario = load("gold", seed=1, count=3)
    records = gold_proto.message_records(scenario.records()[0])
    assert gold_proto.parse_message(records).serial == scenario.serial
    for broken in (
        records[:-1],
        [r.replace("|F||", "|Q||") if r.startswith("R") else r for r in records],
        [r.replace(scenario.serial, "OTHER") if r.startswith("R") else r for r in records],
    ):
        with pytest.raises(gold_proto.MessageError):
            gold_proto.parse_message(broken)


def test_spectro_identity_crc_and_device_type() -> None:
    regs = regmap.Identity("SPM-1", 1, 6, 1, 0).registers()
    regs[3] ^= 1
    with pytest.raises(regmap.RegisterError):
        regmap.Identity.from_registers(regs)


# --- simulators -----------------------------------------------------------------------------------------


def test_fault_specs() -> None:
    plan = FaultPlan.parse("corrupt=0.05, drop=0.1,dup,checksum=0.2", seed=3)
    assert plan.rates == {"corrupt": 0.05, "drop": 0.1, "dup": 0.05, "badcrc": 0.2}
    for bad in ("teleport=0.1", "drop=2", "drop=x"):
        with pytest.raises(FaultSpecError):
            FaultPlan.parse(bad)


def test_seeded_scenarios_are_deterministic() -> None:
    for family in families():
        a = expected_readings(load(family, seed=9, count=40))
        b = expected_readings(load(family, seed=9, count=40))
        c = expected_readings(load(family, seed=10, count=40))
        assert a == b and a != c and len({r.key() for r in a}) == 40
        own = {r.judgement for r in expected_readings(load(family, seed=9, count=300))}
        # a camera does not judge (the LIMS judges a card photo against its kit lot); an analyzer gives all three
        assert own == ({None} if family == "card-photo" else {"negative", "positive", "invalid"})


def test_scenario_file(tmp_path: Path) -> None:
    path = tmp_path / "run.yaml"
    path.write_text(
        "serial: EIA-777\nfirst_sequence: 500\nreadings:\n"
        "  - {sample: XQ260506001K, channel: 1, result: positive, group: 1}\n"
        "  - {sample: XQ260506002J, channel: 4, group: 1}\n"
        "  - {sample: null, result: invalid}\n",
        encoding="utf-8",
    )
    readings = expected_readings(load("pesticide", scenario_file=path))
    assert [(r.instrument_serial, r.sequence, r.channel, r.sample_label_id, r.judgement) for r in readings] == [
        ("EIA-777", 500, 1, "XQ260506001K", "positive"),
        ("EIA-777", 501, 4, "XQ260506002J", "negative"),
        ("EIA-777", 502, readings[2].channel, None, "invalid"),
    ]
    assert readings[0].raw["run"] == readings[1].raw["run"] != readings[2].raw["run"]
    assert len(expected_readings(load("pesticide", scenario_file=path, count=7))) == 7
    bad = tmp_path / "bad.yaml"
    bad.write_text("readings:\n  - {result: maybe}\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match="result"):
        load("gold", scenario_file=bad)


def test_listen_urls() -> None:
    for kind, listen in (("gold", "modbus-tcp://127.0.0.1:0"), ("pesticide", "nonsense"), ("ph", "pty")):
        with pytest.raises(ListenUrlError):
            open_endpoint(kind, listen)


def test_lims_simulate_prints_the_url_and_serves_until_done(tmp_path: Path) -> None:
    expect = tmp_path / "expected.jsonl"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lims",
            "simulate",
            "pesticide",
            "--listen",
            "pty",
            "--seed",
            "3",
            "--count",
            "4",
            "--exit-when-done",
            "--expect",
            str(expect),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        device = proc.stdout.readline().strip()
        assert device.startswith("/dev/")
        with create_driver("pesticide", device) as d:
            got = list(d.readings(count=4, auto_ack=True))
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill() if proc.poll() is None else None
        proc.wait()
    assert proc.returncode == 0
    assert json.loads(err.strip().splitlines()[-1])["released"] >= 1
    wanted = [json.loads(line) for line in expect.read_text(encoding="utf-8").splitlines()]
    assert [r.as_dict() for r in got] == wanted


def test_lims_simulate_refuses_bad_arguments() -> None:
    for args in (["gold", "--listen", "bogus"], ["gold", "--listen", "pty", "--faults", "drop=7"]):
        proc = subprocess.run(
            [sys.executable, "-m", "lims", "simulate", *args], capture_output=True, text=True, timeout=30
        )
        assert proc.returncode == 2 and "error:" in proc.stderr and "Traceback" not in proc.stderr
