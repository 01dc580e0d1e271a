"""Simulated enzyme-inhibition pesticide analyzer: answers INFO, POLL and ACK on the binary protocol."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from instrument_drivers.protocols import pesticide as proto
from simulators.base import Simulator
from simulators.link import Line

MODEL = "EI-8A"
FIRMWARE = 0x0203
CHECKSUM = slice(-2, -1)


@dataclass
class PesticideSimulator(Simulator):
    family = "pesticide"
    response_timeout = proto.RESPONSE_TIMEOUT
    response_floor = proto.RESPONSE_TIMEOUT_FLOOR

    def __post_init__(self) -> None:
        super().__post_init__()
        self.records = self.scenario.pesticide_records()
        self.head = 0  # index of the oldest unacknowledged record

    def pending(self) -> int:
        return len(self.records) - self.head

    def serve(self, line: Line) -> None:
        parser = proto.FrameParser()
        while not self.stopping():
            data = line.read(0.1)
            if not data:
                if self.exit_when_done and self.done():
                    return
                continue
            rejected = parser.rejected
            parser.feed(data)
            for frame in list(parser.frames()):
                self.link_faults()
                self.answer(line, frame)
            if parser.rejected > rejected and not parser.pending():
                self.send(line, proto.encode_frame(proto.RSP_NAK, bytes((proto.NAK_BAD_CRC,))))

    def send(self, line: Line, frame: bytes) -> None:
        self.faults.send(line, frame, checksum=CHECKSUM, slow=self.slow_delay())

    def answer(self, line: Line, frame: proto.Frame) -> None:
        if self.faults.hit("corrupt"):  # the command was garbled on its way in: CRC fails
            self.send(line, proto.encode_frame(proto.RSP_NAK, bytes((proto.NAK_BAD_CRC,))))
            return
        if frame.cmd == proto.CMD_INFO:
            info = proto.Info(self.scenario.serial, MODEL, FIRMWARE, 8, self.pending())
            self.send(line, proto.encode_frame(proto.RSP_INFO, info.encode()))
        elif frame.cmd == proto.CMD_POLL:
            if self.faults.hit("busy"):
                self.send(line, proto.encode_busy(50))
            elif self.head < len(self.records):
                self.send(line, proto.encode_frame(proto.RSP_RECORD, self.records[self.head].encode()))
            else:
                self.send(line, proto.encode_frame(proto.RSP_EMPTY))
        elif frame.cmd == proto.CMD_ACK and len(frame.data) == 4:
            (run,) = struct.unpack("<I", frame.data)
            if self.head < len(self.records) and self.records[self.head].run == run:
                self.head += 1
                self.released_one(run)
            self.send(line, proto.encode_acked(run, self.pending()))
        elif frame.cmd in (proto.CMD_INFO, proto.CMD_POLL, proto.CMD_ACK):
            self.send(line, proto.encode_frame(proto.RSP_NAK, bytes((proto.NAK_BAD_LENGTH,))))
        else:
            self.send(line, proto.encode_frame(proto.RSP_NAK, bytes((proto.NAK_UNKNOWN_CMD,))))
