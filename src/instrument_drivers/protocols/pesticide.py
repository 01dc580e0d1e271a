"""Pesticide-residue analyzer protocol ("QT-EI binary"): framing, commands and record layout.

Frame: ``7E CMD LEN_lo LEN_hi DATA… CRC8 AA``. LEN counts DATA bytes (little-endian). CRC-8 (poly 0x31,
init 0x00) covers CMD, both LEN bytes and DATA. There is no byte stuffing: a 7E inside DATA is legal, so
a parser must not trust a 7E to start a frame until LEN, CRC and the AA trailer agree, and after any
mismatch it resynchronises on the next 7E after the rejected one (it never skips LEN bytes blindly).
Values are little-endian; reals are IEEE-754 float32. See docs/protocols/pesticide.md.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from instrument_drivers.protocols.crc import crc8

SOF = 0x7E
END = 0xAA
HEADER_LEN = 4  # 7E CMD LEN LEN
TRAILER_LEN = 2  # CRC AA
MAX_DATA = 1024  # longer LEN fields are garbage: 4 + 6 + 8 + 2 + 16 * 33 = 548 is the largest record
DEFAULT_BAUD = 115200

# Host → analyzer
CMD_INFO = 0x01
CMD_POLL = 0x02
CMD_ACK = 0x03
# Analyzer → host
RSP_INFO = 0x81
RSP_RECORD = 0x82
RSP_EMPTY = 0x83
RSP_ACKED = 0x84
RSP_BUSY = 0x85
RSP_NAK = 0x8F

NAK_BAD_CRC = 0x01
NAK_UNKNOWN_CMD = 0x02
NAK_BAD_LENGTH = 0x03

JUDGEMENTS = ("negative", "positive", "invalid")
MAX_CHANNELS = 16
CHANNEL_BLOCK = struct.Struct("<Ifff B 16s")  # result seq, ΔA control, ΔA sample, inhibition %, judgement, id
RECORD_HEAD = struct.Struct("<I 6B 8s H")  # run, yy mm dd hh mi ss, item code, channel mask
INFO = struct.Struct("<16s 16s H B H")  # serial, model, firmware, channels, stored records

# Response timeout the host allows for one answer (not a standard's figure: the vendor manual's 500 ms).
RESPONSE_TIMEOUT = 0.5
RESPONSE_TIMEOUT_FLOOR = 0.1  # however small LIMS_LINK_TIMER_SCALE is


class FrameError(ValueError):
    """A frame that passed its CRC but does not have the structure its command requires."""


def encode_frame(cmd: int, data: bytes = b"") -> bytes:
    """One complete frame for `cmd` carrying `data`."""
    if len(data) > MAX_DATA:
        raise ValueError(f"data too long for one frame: {len(data)} > {MAX_DATA}")
    body = bytes((cmd, len(data) & 0xFF, len(data) >> 8)) + data
    return bytes((SOF,)) + body + bytes((crc8(body), END))


@dataclass(frozen=True, slots=True)
class Frame:
    cmd: int
    data: bytes


@dataclass(slots=True)
class FrameParser:
    """Incremental frame parser that resynchronises on the next 7E after anything that does not check.

    Feed bytes as they arrive; iterate `frames()` for the complete, valid frames. `garbage` counts the
    bytes skipped and `rejected` the candidate frames thrown away (bad LEN, CRC or trailer).
    """

    buffer: bytearray = field(default_factory=bytearray)
    garbage: int = 0
    rejected: int = 0

    def feed(self, data: bytes) -> None:
        self.buffer += data

    def frames(self) -> Iterator[Frame]:
        buf = self.buffer
        while True:
            start = buf.find(SOF)
            if start < 0:
                self.garbage += len(buf)
                buf.clear()
                return
            if start:
                self.garbage += start
                del buf[:start]
            if len(buf) < HEADER_LEN:
                return
            length = buf[2] | (buf[3] << 8)
            if length > MAX_DATA:
                self._reject()
                continue
            total = HEADER_LEN + length + TRAILER_LEN
            if len(buf) < total:
                return
            body = bytes(buf[1 : HEADER_LEN + length])
            if buf[total - 1] != END or crc8(body) != buf[total - 2]:
                self._reject()
                continue
            del buf[:total]
            yield Frame(body[0], body[3:])

    def pending(self) -> bool:
        """True when a partial candidate frame is waiting for more bytes."""
        return bool(self.buffer)

    def resync(self) -> None:
        """Give up on the candidate at the head (e.g. after a reply timeout) and look for the next 7E."""
        if self.buffer:
            self._reject()

    def _reject(self) -> None:
        self.rejected += 1
        self.garbage += 1
        del self.buffer[:1]


def parse_frames(data: bytes) -> list[Frame]:
    """All valid frames in `data` (convenience for tests and tools)."""
    parser = FrameParser()
    parser.feed(data)
    return list(parser.frames())


# --- payloads -------------------------------------------------------------------------------------------


def _text(raw: bytes) -> str:
    return raw.split(b"\x00", 1)[0].decode("ascii", errors="replace").strip()


def _pad(text: str, size: int) -> bytes:
    raw = text.encode("ascii")
    if len(raw) > size:
        raise ValueError(f"{text!r} is longer than {size} bytes")
    return raw.ljust(size, b"\x00")


@dataclass(frozen=True, slots=True)
class Info:
    serial: str
    model: str
    firmware: int
    channels: int
    stored: int

    def encode(self) -> bytes:
        return INFO.pack(_pad(self.serial, 16), _pad(self.model, 16), self.firmware, self.channels, self.stored)

    @classmethod
    def decode(cls, data: bytes) -> Info:
        if len(data) != INFO.size:
            raise FrameError(f"INFO payload must be {INFO.size} bytes, got {len(data)}")
        serial, model, firmware, channels, stored = INFO.unpack(data)
        if not _text(serial):
            raise FrameError("INFO without a serial number")
        return cls(_text(serial), _text(model), firmware, channels, stored)


@dataclass(frozen=True, slots=True)
class ChannelResult:
    channel: int  # 1-based
    result_seq: int
    control_dA: float
    sample_dA: float
    inhibition: float
    judgement: str
    sample_id: str


@dataclass(frozen=True, slots=True)
class Record:
    """One run of the analyzer: one item, one or more channels, released as a whole by CMD_ACK."""

    run: int
    time: datetime
    item_code: str
    channels: tuple[ChannelResult, ...]

    @property
    def mask(self) -> int:
        mask = 0
        for ch in self.channels:
            mask |= 1 << (ch.channel - 1)
        return mask

    def encode(self) -> bytes:
        ordered = sorted(self.channels, key=lambda c: c.channel)
        if len({c.channel for c in ordered}) != len(ordered):
            raise ValueError("a channel appears twice in one record")
        t = self.time
        out = bytearray(
            RECORD_HEAD.pack(
                self.run,
                t.year - 2000,
                t.month,
                t.day,
                t.hour,
                t.minute,
                t.second,
                _pad(self.item_code, 8),
                self.mask,
            )
        )
        for ch in ordered:
            out += CHANNEL_BLOCK.pack(
                ch.result_seq,
                ch.control_dA,
                ch.sample_dA,
                ch.inhibition,
                JUDGEMENTS.index(ch.judgement),
                _pad(ch.sample_id, 16),
            )
        return bytes(out)

    @classmethod
    def decode(cls, data: bytes) -> Record:
        if len(data) < RECORD_HEAD.size:
            raise FrameError("RECORD payload shorter than its header")
        run, yy, mo, dd, hh, mi, ss, item, mask = RECORD_HEAD.unpack_from(data)
        channels = [i + 1 for i in range(MAX_CHANNELS) if mask >> i & 1]
        expected = RECORD_HEAD.size + CHANNEL_BLOCK.size * len(channels)
        if not channels or len(data) != expected:
            raise FrameError(f"RECORD with mask {mask:#06x} must be {expected} bytes, got {len(data)}")
        try:
            when = datetime(2000 + yy, mo, dd, hh, mi, ss)
        except ValueError as exc:
            raise FrameError(f"RECORD time is not a date: {exc}") from None
        results = []
        for n, channel in enumerate(channels):
            seq, dac, das, inh, judgement, sid = CHANNEL_BLOCK.unpack_from(
                data, RECORD_HEAD.size + n * CHANNEL_BLOCK.size
            )
            if judgement >= len(JUDGEMENTS):
                raise FrameError(f"judgement code {judgement} unknown")
            results.append(ChannelResult(channel, seq, dac, das, inh, JUDGEMENTS[judgement], _text(sid)))
        if not _text(item):
            raise FrameError("RECORD without an item code")
        return cls(run, when, _text(item), tuple(results))


def encode_ack(run: int) -> bytes:
    return encode_frame(CMD_ACK, struct.pack("<I", run))


def decode_acked(data: bytes) -> tuple[int, int]:
    """(run, remaining) from an RSP_ACKED payload."""
    if len(data) != 6:
        raise FrameError("ACKED payload must be 6 bytes")
    run, remaining = struct.unpack("<IH", data)
    return run, remaining


def encode_acked(run: int, remaining: int) -> bytes:
    return encode_frame(RSP_ACKED, struct.pack("<IH", run, min(remaining, 0xFFFF)))


def encode_busy(retry_after_ms: int) -> bytes:
    return encode_frame(RSP_BUSY, struct.pack("<H", retry_after_ms))


def decode_busy(data: bytes) -> int:
    if len(data) != 2:
        raise FrameError("BUSY payload must be 2 bytes")
    return int(struct.unpack("<H", data)[0])


def f32(value: float) -> float:
    """`value` as it survives a float32 round trip (what the host will decode)."""
    return float(struct.unpack("<f", struct.pack("<f", value))[0])
