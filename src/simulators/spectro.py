"""Simulated spectrophotometric analyzer: a Modbus server (RTU or TCP framing) over the register map of
`instrument_drivers.protocols.spectro`, written here from the protocol text so that byte-level faults
can be injected anywhere."""

from __future__ import annotations

import random
import struct
import time
from dataclasses import dataclass
from datetime import timedelta

from instrument_drivers.protocols import spectro as regmap
from instrument_drivers.protocols.crc import crc16_modbus
from instrument_drivers.reading import Reading
from simulators.base import Simulator
from simulators.link import Line
from simulators.scenario import Scenario, ScenarioError

FIRMWARE = 0x0105
CHANNELS = 6
RTU_GAP = 0.05  # a partial RTU request older than this is thrown away (line silence ends a frame)


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


ITEMS: dict[str, SpectroMethod] = {
    "HCHO": SpectroMethod(413, 0.122, 8.0, 50.0, "mg/kg", 5.0, True),  # formaldehyde: not permitted in food
    "NO2": SpectroMethod(538, 0.470, 1.0, 100.0, "mg/kg", 30.0, False),  # nitrite, cured meat, GB 2760
    "SO2": SpectroMethod(579, 0.350, 2.0, 100.0, "g/kg", 0.1, False),  # SO2 residue, dried fruit, GB 2760
    "BORAX": SpectroMethod(550, 0.080, 10.0, 50.0, "mg/kg", 20.0, True),  # borax: not permitted
    "RONG": SpectroMethod(413, 0.120, 4.0, 50.0, "mg/kg", 10.0, True),  # rongalite (吊白块): not permitted
}


def rtu_frame(pdu: bytes) -> bytes:
    return pdu + struct.pack("<H", crc16_modbus(pdu))


@dataclass
class SpectroSimulator(Simulator):
    framing: str = "rtu"  # "rtu" | "tcp"
    unit: int = regmap.DEFAULT_UNIT

    family = "spectro"
    response_timeout = regmap.RESPONSE_TIMEOUT
    response_floor = regmap.RESPONSE_TIMEOUT_FLOOR

    @classmethod
    def generate(cls, scenario: Scenario) -> list[regmap.Result]:
        """The results the analyzer has measured, one per intent, diluted as the method says."""
        rng = random.Random(f"values:spectro:{scenario.seed}")
        f32 = regmap.f32
        items = sorted(ITEMS)
        results = []
        for n, it in enumerate(scenario.intents):
            item = it.item or rng.choice(items)
            if item not in ITEMS:
                raise ScenarioError(f"spectro item {item!r} unknown; known: {', '.join(items)}")
            m = ITEMS[item]
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
                regmap.Result(
                    sequence=scenario.first_sequence + n,
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
                    time=scenario.start + timedelta(minutes=2 * n),
                    unit=m.unit,
                )
            )
        return results

    @classmethod
    def expected(cls, scenario: Scenario) -> list[Reading]:
        """One reading per FIFO result, in FIFO order."""
        return [
            Reading(
                scenario.serial,
                cls.family,
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
            for r in cls.generate(scenario)
        ]

    def __post_init__(self) -> None:
        super().__post_init__()
        self.results = self.generate(self.scenario)
        self.head = 0
        self.last_acked = 0

    def pending(self) -> int:
        return len(self.results) - self.head

    # --- registers --------------------------------------------------------------------------------

    def input_registers(self) -> dict[int, int]:
        status = regmap.STATUS_READY
        ident = regmap.Identity(self.scenario.serial, FIRMWARE, CHANNELS, status, self.pending())
        regs = dict(enumerate(ident.registers()))
        head = self.results[self.head].registers() if self.pending() else regmap.EMPTY_HEAD
        regs.update({regmap.REG_HEAD + i: v for i, v in enumerate(head)})
        return regs

    def holding_registers(self) -> dict[int, int]:
        hi, lo = regmap.u32_to_registers(self.last_acked)
        return {regmap.REG_ACK: hi, regmap.REG_ACK + 1: lo}

    def handle_pdu(self, pdu: bytes) -> bytes:
        """The response PDU for a request PDU (function code + data)."""
        fc = pdu[0]
        if self.faults.hit("busy"):
            return bytes((fc | 0x80, regmap.EXC_BUSY))
        if fc in (3, 4) and len(pdu) == 5:
            start, count = struct.unpack(">HH", pdu[1:5])
            table = self.input_registers() if fc == 4 else self.holding_registers()
            if not 1 <= count <= 125:
                return bytes((fc | 0x80, regmap.EXC_ILLEGAL_VALUE))
            if any(a not in table for a in range(start, start + count)):
                return bytes((fc | 0x80, regmap.EXC_ILLEGAL_ADDRESS))
            values = [table[a] for a in range(start, start + count)]
            return bytes((fc, 2 * count)) + struct.pack(f">{count}H", *values)
        if fc == 16 and len(pdu) >= 6:
            start, count, nbytes = struct.unpack(">HHB", pdu[1:6])
            if nbytes != 2 * count or len(pdu) != 6 + nbytes:
                return bytes((fc | 0x80, regmap.EXC_ILLEGAL_VALUE))
            if (start, count) != (regmap.REG_ACK, regmap.ACK_COUNT):
                return bytes((fc | 0x80, regmap.EXC_ILLEGAL_ADDRESS))
            seq = regmap.registers_to_u32(list(struct.unpack(">2H", pdu[6:10])))
            if self.pending() and self.results[self.head].sequence == seq:
                self.head += 1
                self.last_acked = seq
                self.released_one(seq)
            elif not any(r.sequence == seq for r in self.results[: self.head]):
                return bytes((fc | 0x80, regmap.EXC_ILLEGAL_VALUE))
            return pdu[:5]
        if fc in (3, 4, 6, 16):
            return bytes((fc | 0x80, regmap.EXC_ILLEGAL_ADDRESS if fc == 6 else regmap.EXC_ILLEGAL_VALUE))
        return bytes((fc | 0x80, regmap.EXC_ILLEGAL_FUNCTION))

    # --- framing ----------------------------------------------------------------------------------

    def serve(self, line: Line) -> None:
        buf = bytearray()
        last_rx = time.monotonic()
        while not self.stopping():
            data = line.read(0.1)
            now = time.monotonic()
            if not data:
                if self.exit_when_done and self.done():
                    return
                if buf and now - last_rx > RTU_GAP:
                    buf.clear()
                continue
            if self.framing == "rtu" and buf and now - last_rx > RTU_GAP:
                buf.clear()  # silence ended the previous (incomplete) frame
            last_rx = now
            buf += data
            for request in self._rtu_requests(buf) if self.framing == "rtu" else self._tcp_requests(buf):
                self.link_faults()
                self.respond(line, request)

    def _rtu_requests(self, buf: bytearray) -> list[tuple[int, int, bytes]]:
        out = []
        while len(buf) >= 4:
            fc = buf[1]
            if fc in (3, 4, 6):
                size = 8
            elif fc == 16 and len(buf) >= 7:
                size = 9 + buf[6]
            elif fc == 16:
                break
            else:
                size = 4
            if len(buf) < size:
                break
            frame = bytes(buf[:size])
            if struct.unpack("<H", frame[-2:])[0] != crc16_modbus(frame[:-2]):
                del buf[:1]  # not a frame here: look one byte further
                continue
            del buf[:size]
            if frame[0] == self.unit:
                out.append((0, frame[0], frame[1:-2]))
        return out

    def _tcp_requests(self, buf: bytearray) -> list[tuple[int, int, bytes]]:
        out = []
        while len(buf) >= 7:
            tid, pid, length, unit = struct.unpack(">HHHB", buf[:7])
            if pid != 0 or not 2 <= length <= 254:
                buf.clear()  # not Modbus/TCP: drop it all, the client will time out and retry
                break
            if len(buf) < 6 + length:
                break
            pdu = bytes(buf[7 : 6 + length])
            del buf[: 6 + length]
            out.append((tid, unit, pdu))
        return out

    def respond(self, line: Line, request: tuple[int, int, bytes]) -> None:
        tid, unit, pdu = request
        if self.faults.hit("corrupt"):  # garbled on its way in: the CRC fails, no answer
            return
        answer = self.handle_pdu(pdu)
        if self.framing == "rtu":
            frame = rtu_frame(bytes((unit,)) + answer)
            checksum: slice | None = slice(-2, None)
        else:
            frame = struct.pack(">HHHB", tid, 0, len(answer) + 1, unit) + answer
            # Modbus/TCP has no checksum: "badcrc" spoils the record CRC register of a FIFO read
            checksum = slice(-2, None) if answer[0] == 4 and len(answer) == 2 + 2 * regmap.HEAD_COUNT else None
        self.faults.send(line, frame, checksum=checksum, slow=self.slow_delay())
