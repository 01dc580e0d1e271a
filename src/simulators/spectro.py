"""Simulated spectrophotometric analyzer: a Modbus server (RTU or TCP framing) over the register map of
`instrument_drivers.protocols.spectro`, written here from the protocol text so that byte-level faults
can be injected anywhere."""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

from instrument_drivers.protocols import spectro as regmap
from instrument_drivers.protocols.crc import crc16_modbus
from simulators.base import Simulator
from simulators.link import Line

FIRMWARE = 0x0105
CHANNELS = 6
RTU_GAP = 0.05  # a partial RTU request older than this is thrown away (line silence ends a frame)


def rtu_frame(pdu: bytes) -> bytes:
    return pdu + struct.pack("<H", crc16_modbus(pdu))


@dataclass
class SpectroSimulator(Simulator):
    framing: str = "rtu"  # "rtu" | "tcp"
    unit: int = regmap.DEFAULT_UNIT

    family = "spectro"
    response_timeout = regmap.RESPONSE_TIMEOUT
    response_floor = regmap.RESPONSE_TIMEOUT_FLOOR

    def __post_init__(self) -> None:
        super().__post_init__()
        self.results = self.scenario.spectro_results()
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
