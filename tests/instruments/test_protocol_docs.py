"""The byte-level examples of docs/protocols/ are test vectors: codecs must produce and accept them, and
independent implementations (crcmod, python-astm, minimalmodbus, pymodbus) must agree with them."""

from __future__ import annotations

import struct
from datetime import datetime

import crcmod
import minimalmodbus
import pytest
from astm import codec as astm_codec
from pymodbus.framer import FramerRTU, FramerSocket
from pymodbus.pdu import DecodePDU

from instrument_drivers.protocols import astm, crc
from instrument_drivers.protocols import gold as gold_proto
from instrument_drivers.protocols import pesticide as pest
from instrument_drivers.protocols import spectro as regmap
from tests.instruments.harness import vectors

PEST = vectors("pesticide.md")
GOLD = vectors("gold-astm.md")
SPEC = vectors("spectro-modbus.md")

# An independent CRC-8 (poly 0x31, init 0, not reflected, no final XOR): crcmod's generator.
crcmod_crc8 = crcmod.mkCrcFun(0x131, initCrc=0x00, rev=False, xorOut=0x00)


def test_every_document_has_vectors() -> None:
    assert len(PEST) >= 10 and len(GOLD) >= 3 and len(SPEC) >= 12


# --- pesticide ------------------------------------------------------------------------------------------


def test_crc8_check_value_and_independent_implementation() -> None:
    assert crc.crc8(b"123456789") == 0xA2 == crcmod_crc8(b"123456789")
    for data in (b"", b"\x00", b"\xff" * 300, bytes(range(256))):
        assert crc.crc8(data) == crcmod_crc8(data)


@pytest.mark.parametrize("name", [n for n in PEST if n != "resync"])
def test_pesticide_vector_is_one_valid_frame(name: str) -> None:
    raw = PEST[name]
    assert raw[0] == 0x7E and raw[-1] == 0xAA
    length = raw[2] | raw[3] << 8
    assert len(raw) == length + 6
    assert raw[-2] == crcmod_crc8(raw[1:-2])
    (frame,) = pest.parse_frames(raw)
    assert pest.encode_frame(frame.cmd, frame.data) == raw


def test_pesticide_commands_encode_to_the_documented_bytes() -> None:
    assert pest.encode_frame(pest.CMD_INFO) == PEST["info-request"]
    assert pest.encode_frame(pest.CMD_POLL) == PEST["poll"]
    assert pest.encode_ack(17) == PEST["ack-17"]
    assert pest.encode_acked(17, 2) == PEST["acked-17"]
    assert pest.encode_frame(pest.RSP_EMPTY) == PEST["empty"]
    assert pest.encode_busy(50) == PEST["busy-50ms"]
    assert pest.encode_frame(pest.RSP_NAK, bytes((pest.NAK_BAD_CRC,))) == PEST["nak-bad-crc"]


def test_pesticide_info_answer() -> None:
    (frame,) = pest.parse_frames(PEST["info-answer"])
    assert frame.cmd == pest.RSP_INFO
    assert pest.Info.decode(frame.data) == pest.Info("EIA-000042", "EI-8A", 0x0203, 8, 3)


def test_pesticide_record_run_17() -> None:
    (frame,) = pest.parse_frames(PEST["record-run-17"])
    record = pest.Record.decode(frame.data)
    assert record.run == 17 and record.item_code == "OPC" and record.mask == 0b101
    assert record.time == datetime(2026, 5, 6, 9, 30, 0)
    ch1, ch3 = record.channels
    assert (ch1.channel, ch1.result_seq, ch1.judgement, ch1.sample_id) == (1, 101, "positive", "XQ260506001K")
    assert (ch1.control_dA, ch1.inhibition) == (0.5, 80.0)
    assert ch1.sample_dA == struct.unpack("<f", bytes.fromhex("CDCCCC3D"))[0]
    assert (ch3.channel, ch3.result_seq, ch3.judgement, ch3.sample_id) == (3, 102, "invalid", "")
    assert (ch3.control_dA, ch3.inhibition) == (0.25, 20.0)
    assert pest.encode_frame(pest.RSP_RECORD, record.encode()) == PEST["record-run-17"]


def test_pesticide_resync_vector_yields_only_the_good_frame() -> None:
    parser = pest.FrameParser()
    parser.feed(PEST["resync"])
    assert [(f.cmd, f.data) for f in parser.frames()] == [(pest.RSP_EMPTY, b"")]
    assert parser.rejected == 2 and not parser.pending()


# --- gold / ASTM ------------------------------------------------------------------------------------------


def test_published_astm_frame() -> None:
    raw = GOLD["manual-frame"]
    assert raw == b"\x021A|B|C|D\r\x03BF\r\n"
    assert astm.record_frames(["A|B|C|D"]) == [raw]
    assert astm_codec.make_checksum(raw[1:-4]) == b"BF"  # python-astm, independently
    token = astm.check_frame(raw)
    assert (token.kind, token.fn, token.text, token.final) == ("frame", 1, b"A|B|C|D\r", True)


def _frames(raw: bytes) -> list[bytes]:
    return [b"\x02" + part for part in raw.split(b"\x02")[1:]]


def test_card_123_frames_checksums_and_records() -> None:
    frames = _frames(GOLD["card-123"])
    assert len(frames) == 7
    for fn, frame in enumerate(frames, 1):
        assert astm_codec.make_checksum(frame[1:-4]) == frame[-4:-2]
        assert astm.check_frame(frame).fn == fn % 8
    records = [astm.check_frame(f).text.decode().rstrip("\r") for f in frames]
    test = gold_proto.parse_message(records)
    assert (test.serial, test.test_no, test.sample_id, test.operator) == ("GCR-000042", 123, "XQ260506001K", "T01")
    assert [(r.item_code, r.kit_lot, r.ratio, r.t, r.c, r.cutoff, r.judgement) for r in test.results] == [
        ("CLB", "CLB-2611A", 0.410, 0.402, 0.981, 0.9, "positive"),
        ("RAC", "RAC-2611A", 1.087, 1.052, 0.968, 0.9, "negative"),
        ("SAL", "SAL-2611A", 0.596, 0.031, 0.052, 0.9, "invalid"),
    ]
    assert [test.sequence(r.position) for r in test.results] == [1231, 1232, 1233]
    assert astm.record_frames(gold_proto.message_records(test)) == frames


def test_card_123_decoded_by_python_astm() -> None:
    for frame in _frames(GOLD["card-123"]):
        _seq, records, checksum = astm_codec.decode_message(frame, "latin-1")
        assert checksum == frame[-4:-2].decode()
        assert records[0][0] in "HPORL"


def test_chunked_record_is_split_at_240_characters() -> None:
    frames = _frames(GOLD["chunked-comment"])
    assert [len(astm.check_frame(f).text) for f in frames] == [240, 100]
    assert frames[0][-5] == astm.ETB and frames[1][-5] == astm.ETX
    assert astm_codec.is_chunked_message(frames[0]) and not astm_codec.is_chunked_message(frames[1])
    assembler = astm.RecordAssembler()
    assert assembler.add(astm.check_frame(frames[0]).text, final=False) == []
    (record,) = assembler.add(astm.check_frame(frames[1]).text, final=True)
    assert record.startswith(b"C|1|I|self-check") and record.endswith(b"C;|G") and len(record) == 339
    assert astm.record_frames([record.decode()], first_fn=3) == frames
    # python-astm joins the chunks back into the same record
    joined = astm_codec.join(frames)
    assert astm_codec.decode_message(joined, "latin-1")[1][0][0] == "C"


# --- spectro / Modbus -----------------------------------------------------------------------------------


def test_identity_registers() -> None:
    ident = regmap.Identity.from_registers(SPEC["identity"])
    assert ident == regmap.Identity("SPM-000042", 0x0105, 6, 1, 2)
    assert ident.registers() == SPEC["identity"]


def test_head_registers_of_result_58() -> None:
    regs = SPEC["head-58"]
    result = regmap.decode_head(regs)
    assert result is not None
    assert (result.sequence, result.item_code, result.channel, result.wavelength_nm) == (58, "NO2", 2, 538)
    assert (result.judgement, result.sample_id, result.unit) == ("negative", "XQ260506002J", "mg/kg")
    assert result.time == datetime(2026, 5, 6, 10, 2, 3)
    assert result.absorbance == regmap.f32(0.240) and result.blank == regmap.f32(0.015)
    assert (result.dilution, result.mass_g) == (1.0, 2.5)
    assert result.concentration == pytest.approx((0.240 - 0.015) / 0.470 * 100 / 2.5, rel=1e-6)
    assert result.registers() == regs
    # minimalmodbus' own decoders agree on the word order and text packing
    raw = struct.pack(">33H", *regs)
    assert minimalmodbus._bytes_to_float(raw[14:18], 2, minimalmodbus.BYTEORDER_BIG) == result.absorbance
    assert minimalmodbus._bytes_to_long(raw[0:4], False, 2, minimalmodbus.BYTEORDER_BIG) == 58
    assert minimalmodbus._bytes_to_textstring(raw[38:54], 8).rstrip("\x00") == "XQ260506002J"


def test_empty_head() -> None:
    assert regmap.decode_head(SPEC["head-empty"]) is None
    assert SPEC["head-empty"] == regmap.EMPTY_HEAD


@pytest.mark.parametrize("name", [n for n in SPEC if n.startswith("rtu-")])
def test_rtu_frames_have_the_crc_minimalmodbus_computes(name: str) -> None:
    frame = SPEC[name]
    assert minimalmodbus._calculate_crc(frame[:-2]) == frame[-2:]
    assert frame[-2:] == struct.pack("<H", crc.crc16_modbus(frame[:-2]))


def test_rtu_requests_and_answers_decode_with_pymodbus() -> None:
    client_framer = FramerRTU(DecodePDU(is_server=False))
    used, pdu = client_framer.handleFrame(SPEC["rtu-head-answer"], 1, 0)
    assert used == len(SPEC["rtu-head-answer"]) and pdu is not None
    assert list(pdu.registers) == SPEC["head-58"]
    server_framer = FramerRTU(DecodePDU(is_server=True))
    used, pdu = server_framer.handleFrame(SPEC["rtu-ack-58"], 1, 0)
    assert pdu is not None and pdu.address == regmap.REG_ACK and list(pdu.registers) == [0, 58]
    used, pdu = client_framer.handleFrame(SPEC["rtu-busy"], 1, 0)
    assert pdu is not None and pdu.isError() and pdu.exception_code == regmap.EXC_BUSY


def test_tcp_answer_decodes_with_pymodbus() -> None:
    framer = FramerSocket(DecodePDU(is_server=False))
    _used, pdu = framer.handleFrame(SPEC["tcp-head-answer"], 1, 7)
    assert pdu is not None and pdu.transaction_id == 7 and list(pdu.registers) == SPEC["head-58"]
    assert SPEC["tcp-read-head"] == bytes.fromhex("0007 0000 0006 01 04 0100 0021")
