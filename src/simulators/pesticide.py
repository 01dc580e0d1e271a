"""Simulated enzyme-inhibition pesticide analyzer: answers INFO, POLL and ACK on the binary protocol."""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass
from datetime import timedelta

from instrument_drivers.protocols import pesticide as proto
from instrument_drivers.reading import Reading
from simulators.base import Simulator
from simulators.link import Line
from simulators.scenario import Scenario, ScenarioError

MODEL = "EI-8A"
FIRMWARE = 0x0203
CHECKSUM = slice(-2, -1)
ITEMS = ("OPC",)  # the analyzer's item codes: organophosphate and carbamate, enzyme inhibition (GB/T 5009.199)
CHANNELS = 8
UNIT = "%"


@dataclass
class PesticideSimulator(Simulator):
    family = "pesticide"
    response_timeout = proto.RESPONSE_TIMEOUT
    response_floor = proto.RESPONSE_TIMEOUT_FLOOR

    @classmethod
    def generate(cls, scenario: Scenario) -> list[proto.Record]:
        """The runs the analyzer has measured: consecutive intents share a run until a channel repeats."""
        rng = random.Random(f"values:pesticide:{scenario.seed}")
        records = []
        seq = scenario.first_sequence
        f32 = proto.f32
        for n, group in enumerate(scenario.groups(CHANNELS, rng, key_channel=True)):
            fixed = [it.channel for it in group if it.channel is not None]
            free = [c for c in range(1, CHANNELS + 1) if c not in fixed]
            rng.shuffle(free)
            chosen = []
            for it in group:
                channel = it.channel if it.channel is not None else free.pop()
                if not 1 <= channel <= proto.MAX_CHANNELS:
                    raise ScenarioError(f"pesticide channel {channel} outside 1…{proto.MAX_CHANNELS}")
                chosen.append((channel, it))
            if len({c for c, _ in chosen}) != len(chosen):
                raise ScenarioError(f"a channel is used twice in pesticide run {n + 1}")
            channels = []
            for channel, it in sorted(chosen, key=lambda p: p[0]):
                if it.result == "invalid":
                    dac = f32(round(rng.uniform(0.05, 0.28), 4))
                    inh_target = rng.uniform(0, 60)
                else:
                    dac = f32(round(rng.uniform(0.32, 0.85), 4))
                    inh_target = rng.uniform(52, 96) if it.result == "positive" else rng.uniform(-8, 45)
                das = f32(round(dac * (1 - inh_target / 100), 4))
                inh = f32((dac - das) / dac * 100)
                judgement = "invalid" if dac < 0.3 else "positive" if inh >= 50 else "negative"
                channels.append(proto.ChannelResult(channel, seq, dac, das, inh, judgement, it.sample or ""))
                seq += 1
            records.append(
                proto.Record(
                    run=scenario.first_sequence + n,
                    time=scenario.start + timedelta(minutes=4 * n),
                    item_code=group[0].item or ITEMS[0],
                    channels=tuple(channels),
                )
            )
        return records

    @classmethod
    def expected(cls, scenario: Scenario) -> list[Reading]:
        """One reading per channel of each run, in run order."""
        return [
            Reading(
                scenario.serial,
                cls.family,
                ch.result_seq,
                rec.item_code,
                ch.channel,
                ch.sample_id or None,
                {
                    "run": rec.run,
                    "control_dA": ch.control_dA,
                    "sample_dA": ch.sample_dA,
                    "inhibition_pct": ch.inhibition,
                },
                ch.inhibition,
                UNIT,
                ch.judgement,
                rec.time,
            )
            for rec in cls.generate(scenario)
            for ch in rec.channels
        ]

    def __post_init__(self) -> None:
        super().__post_init__()
        self.records = self.generate(self.scenario)
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
