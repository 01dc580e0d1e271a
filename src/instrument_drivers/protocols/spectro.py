"""Register map of the multi-parameter spectrophotometric analyzer (Modbus RTU and TCP).

All values are 16-bit registers; 32-bit values (u32, float32) occupy two registers, high word first
(big-endian, "ABCD"); text is ASCII, two characters per register, first character in the high byte,
NUL-padded. docs/protocols/spectro-modbus.md is the reference with worked examples.

Input registers (function 04):

==========  =====  ==============================================================
address     regs   meaning
==========  =====  ==============================================================
0x0000      1      device type, always 0x5350 ("SP")
0x0001      1      map version, 0x0100 = 1.0
0x0002      8      serial number, 16 characters
0x000A      1      firmware version (major × 256 + minor)
0x000B      1      number of cuvette channels
0x000C      1      status bits: 0 ready, 1 measuring, 2 lamp fault, 3 result memory full
0x000D      1      results waiting in the FIFO (including the head)
0x000E      1      CRC-16/MODBUS of registers 0x0000…0x000D as big-endian bytes
0x0100      33     FIFO head: the oldest unacknowledged result (layout below)
==========  =====  ==============================================================

FIFO head (0x0100 + offset): 0 sequence u32 (0 = FIFO empty) · 2 item code, 8 characters ·
6 channel · 7 absorbance f32 · 9 blank absorbance f32 · 11 dilution factor f32 · 13 sample mass in g
f32 · 15 concentration in the sample f32 · 17 wavelength in nm · 18 judgement (0 negative, 1 positive,
2 invalid) · 19 sample label id, 16 characters · 27 year · 28 month × 256 + day ·
29 hour × 256 + minute · 30 second · 31 unit of the concentration (0 mg/kg, 1 g/kg, 2 µg/kg) ·
32 CRC-16/MODBUS of registers 0…31 as big-endian bytes.

Holding registers (functions 03, 16): 0x0200–0x0201 acknowledge, u32. Writing the head's sequence
number releases it and brings the next result to the head; writing an already released number is
accepted and changes nothing; any other number is refused with exception 03 (illegal data value).
Reading returns the last released sequence number.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import datetime

from instrument_drivers.protocols.crc import crc16_modbus

DEVICE_TYPE = 0x5350
MAP_VERSION = 0x0100
DEFAULT_BAUD = 9600
DEFAULT_UNIT = 1

REG_DEVICE_TYPE = 0x0000
REG_MAP_VERSION = 0x0001
REG_SERIAL = 0x0002
REG_FIRMWARE = 0x000A
REG_CHANNELS = 0x000B
REG_STATUS = 0x000C
REG_FIFO_COUNT = 0x000D
REG_IDENTITY_CRC = 0x000E
IDENTITY_COUNT = 0x000F

REG_HEAD = 0x0100
HEAD_COUNT = 33
REG_ACK = 0x0200
ACK_COUNT = 2

STATUS_READY = 1 << 0
STATUS_MEASURING = 1 << 1
STATUS_LAMP_FAULT = 1 << 2
STATUS_MEMORY_FULL = 1 << 3

UNITS = ("mg/kg", "g/kg", "µg/kg")
JUDGEMENTS = ("negative", "positive", "invalid")

# Modbus exception codes the analyzer uses
EXC_ILLEGAL_FUNCTION = 0x01
EXC_ILLEGAL_ADDRESS = 0x02
EXC_ILLEGAL_VALUE = 0x03
EXC_BUSY = 0x06

# Host timing (vendor manual): answer within 1 s; poll an empty FIFO every 0.5 s.
RESPONSE_TIMEOUT = 1.0
RESPONSE_TIMEOUT_FLOOR = 0.25  # however small LIMS_LINK_TIMER_SCALE is
POLL_INTERVAL = 0.5


class RegisterError(ValueError):
    """Registers that cannot be a result (bad record CRC, impossible date, unknown judgement)."""


def text_to_registers(text: str, count: int) -> list[int]:
    raw = text.encode("ascii")
    if len(raw) > count * 2:
        raise ValueError(f"{text!r} does not fit in {count} registers")
    raw = raw.ljust(count * 2, b"\x00")
    return [raw[i] << 8 | raw[i + 1] for i in range(0, len(raw), 2)]


def registers_to_text(regs: list[int]) -> str:
    raw = b"".join(struct.pack(">H", r) for r in regs)
    return raw.split(b"\x00", 1)[0].decode("ascii", errors="replace").strip()


def u32_to_registers(value: int) -> list[int]:
    return [value >> 16 & 0xFFFF, value & 0xFFFF]


def registers_to_u32(regs: list[int]) -> int:
    return regs[0] << 16 | regs[1]


def float_to_registers(value: float) -> list[int]:
    hi, lo = struct.unpack(">HH", struct.pack(">f", value))
    return [hi, lo]


def registers_to_float(regs: list[int]) -> float:
    return float(struct.unpack(">f", struct.pack(">HH", regs[0], regs[1]))[0])


def f32(value: float) -> float:
    return registers_to_float(float_to_registers(value))


def registers_crc(regs: list[int]) -> int:
    return crc16_modbus(b"".join(struct.pack(">H", r) for r in regs))


@dataclass(frozen=True, slots=True)
class Identity:
    serial: str
    firmware: int
    channels: int
    status: int
    fifo_count: int

    def registers(self) -> list[int]:
        regs = [
            DEVICE_TYPE,
            MAP_VERSION,
            *text_to_registers(self.serial, 8),
            self.firmware,
            self.channels,
            self.status,
            self.fifo_count,
        ]
        return [*regs, registers_crc(regs)]

    @classmethod
    def from_registers(cls, regs: list[int]) -> Identity:
        if len(regs) != IDENTITY_COUNT:
            raise RegisterError(f"identity block is {IDENTITY_COUNT} registers, got {len(regs)}")
        if registers_crc(regs[:-1]) != regs[-1]:
            raise RegisterError("identity block fails its CRC")
        if regs[0] != DEVICE_TYPE:
            raise RegisterError(f"device type {regs[0]:#06x} is not a spectrophotometer ({DEVICE_TYPE:#06x})")
        serial = registers_to_text(regs[2:10])
        if not serial:
            raise RegisterError("the analyzer reports no serial number")
        return cls(serial, regs[10], regs[11], regs[12], regs[13])


@dataclass(frozen=True, slots=True)
class Result:
    sequence: int
    item_code: str
    channel: int
    absorbance: float
    blank: float
    dilution: float
    mass_g: float
    concentration: float
    wavelength_nm: int
    judgement: str
    sample_id: str
    time: datetime
    unit: str = "mg/kg"

    def registers(self) -> list[int]:
        t = self.time
        regs = [
            *u32_to_registers(self.sequence),
            *text_to_registers(self.item_code, 4),
            self.channel,
            *float_to_registers(self.absorbance),
            *float_to_registers(self.blank),
            *float_to_registers(self.dilution),
            *float_to_registers(self.mass_g),
            *float_to_registers(self.concentration),
            self.wavelength_nm,
            JUDGEMENTS.index(self.judgement),
            *text_to_registers(self.sample_id, 8),
            t.year,
            t.month << 8 | t.day,
            t.hour << 8 | t.minute,
            t.second,
            UNITS.index(self.unit),
        ]
        return [*regs, registers_crc(regs)]


EMPTY_HEAD = [0] * (HEAD_COUNT - 1) + [registers_crc([0] * (HEAD_COUNT - 1))]


def decode_head(regs: list[int]) -> Result | None:
    """The FIFO head, or None when the FIFO is empty. Raises RegisterError for a torn or bad block."""
    if len(regs) != HEAD_COUNT:
        raise RegisterError(f"FIFO head is {HEAD_COUNT} registers, got {len(regs)}")
    if registers_crc(regs[:-1]) != regs[-1]:
        raise RegisterError("FIFO head fails its record CRC")
    sequence = registers_to_u32(regs[0:2])
    if sequence == 0:
        return None
    if regs[18] >= len(JUDGEMENTS):
        raise RegisterError(f"judgement code {regs[18]} unknown")
    if regs[31] >= len(UNITS):
        raise RegisterError(f"unit code {regs[31]} unknown")
    try:
        when = datetime(regs[27], regs[28] >> 8, regs[28] & 0xFF, regs[29] >> 8, regs[29] & 0xFF, regs[30])
    except ValueError as exc:
        raise RegisterError(f"result time is not a date: {exc}") from None
    item = registers_to_text(regs[2:6])
    if not item:
        raise RegisterError("result without an item code")
    return Result(
        sequence=sequence,
        item_code=item,
        channel=regs[6],
        absorbance=registers_to_float(regs[7:9]),
        blank=registers_to_float(regs[9:11]),
        dilution=registers_to_float(regs[11:13]),
        mass_g=registers_to_float(regs[13:15]),
        concentration=registers_to_float(regs[15:17]),
        wavelength_nm=regs[17],
        judgement=JUDGEMENTS[regs[18]],
        sample_id=registers_to_text(regs[19:27]),
        time=when,
        unit=UNITS[regs[31]],
    )
