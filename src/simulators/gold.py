"""Simulated colloidal gold card reader: the sender side of ASTM E1381, one E1394 message per card.

Session: ENQ → (ACK) → frames → EOT. A card is released once the frame that carries its L record is
ACKed. Timers (scaled by LIMS_LINK_TIMER_SCALE): 15 s for any reply, 10 s after a NAK to ENQ, 1 s after
ENQ/ENQ contention; a frame is sent at most 6 times, then the session is ended with EOT. Before every
ENQ and every frame the line is drained, so a late reply to an earlier transmission is never taken for
the reply to this one.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import timedelta

from instrument_drivers.protocols import astm
from instrument_drivers.protocols import gold as proto
from instrument_drivers.reading import Reading
from simulators.base import Simulator
from simulators.link import Line
from simulators.scenario import Scenario, ScenarioError

CHECKSUM = slice(-4, -2)
# Line noise without the link's control characters: a noise ENQ, EOT, STX or LF is indistinguishable
# from a real one for any E1381 receiver (the standard cannot defend against it).
NOISE = bytes(
    b
    for b in range(256)
    if b not in (astm.ENQ, astm.ACK, astm.NAK, astm.EOT, astm.STX, astm.ETX, astm.ETB, astm.CR, astm.LF)
)
MESSAGES_PER_SESSION = 3
ABORT_PAUSE = 2.0  # seconds (scaled) between an aborted session and the next ENQ
_ENQ, _EOT = bytes((astm.ENQ,)), bytes((astm.EOT,))

# The reader's item codes, in the panels a card carries (the LIMS maps them to its test items).
PANELS: tuple[tuple[str, ...], ...] = (
    ("CLB", "RAC", "SAL"),  # clenbuterol, ractopamine, salbutamol (meat)
    (
        "MG",
        "CAP",
        "AOZ",
        "AMOZ",
        "AHD",
        "SEM",
    ),  # malachite green, chloramphenicol, the nitrofuran metabolites (aquatic)
    ("AFB1",),  # aflatoxin B1 (grain, nuts, oil)
    ("CLB",),
    ("MG",),
)
# Kit lots loaded in the reader: item → (lot, T/C cut-off). T and C intensities are relative (0…1.5);
# a C line below 0.2 is no C line.
KITS = {
    "CLB": ("CLB-2611A", 0.90),
    "RAC": ("RAC-2611A", 0.90),
    "SAL": ("SAL-2611A", 0.90),
    "MG": ("MG-2610B", 0.85),
    "CAP": ("CAP-2610B", 0.85),
    "AOZ": ("AOZ-2610B", 0.85),
    "AMOZ": ("AMOZ-2610B", 0.85),
    "AHD": ("AHD-2610B", 0.85),
    "SEM": ("SEM-2610B", 0.85),
    "AFB1": ("AFB1-2609C", 0.60),
}
# A lot whose cut-off depends on the matrix (the LIMS reads it for the sample's food category): the reader
# prints the lowest, and its cards are drawn clear of every matrix's cut-off (aflatoxin B1: maize 0.60 … wheat 0.85).
CUTOFF_SPAN = {"AFB1": (0.60, 0.85)}
MIN_C = 0.2


class SessionAborted(Exception):
    """The session ended early (timeout, too many NAKs, receiver interrupt or our own busy EOT)."""


@dataclass
class GoldSimulator(Simulator):
    family = "gold"
    response_timeout = astm.SENDER_REPLY_TIMEOUT

    @classmethod
    def generate(cls, scenario: Scenario) -> list[proto.CardTest]:
        """The cards the reader has measured: a group of intents is one card, else a panel drawn at random."""
        rng = random.Random(f"values:gold:{scenario.seed}")
        tests = []
        remaining = list(scenario.intents)
        n = 0
        while remaining:
            if remaining[0].group is not None:
                gid = remaining[0].group
                size = next((i for i, it in enumerate(remaining) if it.group != gid), len(remaining))
                panel = tuple(it.item or "CLB" for it in remaining[:size])
            else:
                panel = rng.choice(PANELS)
                size = next(
                    (i for i, it in enumerate(remaining[: len(panel)]) if it.group is not None),
                    min(len(panel), len(remaining)),
                )
                size = max(size, 1)
                panel = tuple(remaining[i].item or panel[i] for i in range(size))
            if size > proto.MAX_LINES:
                raise ScenarioError(f"a gold card has at most {proto.MAX_LINES} lines")
            group, remaining = remaining[:size], remaining[size:]
            test_no = scenario.first_sequence + n
            when = scenario.start + timedelta(minutes=3 * n)
            lines = []
            for pos, (it, item) in enumerate(zip(group, panel, strict=True), 1):
                lot, cutoff = KITS.get(item, (f"{item}-LOT", 0.9))
                if it.result == "invalid":
                    c = round(rng.uniform(0.02, 0.15), 3)
                    t = round(rng.uniform(0.0, 0.1), 3)
                else:
                    c = round(rng.uniform(0.6, 1.2), 3)
                    lowest, highest = CUTOFF_SPAN.get(item, (cutoff, cutoff))
                    ratio_target = (
                        rng.uniform(0.05, lowest * 0.85)
                        if it.result == "positive"
                        else rng.uniform(highest * 1.1, max(1.25, highest * 1.2))
                    )
                    t = round(ratio_target * c, 3)
                ratio = round(t / c, 3)
                judgement = "invalid" if c < MIN_C else "positive" if ratio < cutoff else "negative"
                lines.append(
                    proto.LineResult(
                        position=pos,
                        item_code=item,
                        kit_lot=lot,
                        t=t,
                        c=c,
                        ratio=ratio,
                        cutoff=cutoff,
                        judgement=judgement,
                        started=when - timedelta(minutes=10),
                        completed=when,
                    )
                )
            tests.append(
                proto.CardTest(
                    serial=scenario.serial,
                    test_no=test_no,
                    sample_id=group[0].sample or "",
                    operator="T01",
                    time=when,
                    results=tuple(lines),
                )
            )
            n += 1
        return tests

    @classmethod
    def expected(cls, scenario: Scenario) -> list[Reading]:
        """One reading per line of each card, in card order."""
        return [
            Reading(
                scenario.serial,
                cls.family,
                test.sequence(line.position),
                line.item_code,
                None,
                test.sample_id or None,
                {
                    "test_no": test.test_no,
                    "line": line.position,
                    "t": line.t,
                    "c": line.c,
                    "tc": line.ratio,
                    "cutoff": line.cutoff,
                    "kit_lot": line.kit_lot,
                    "operator": test.operator,
                },
                line.ratio,
                proto.UNIT,
                line.judgement,
                line.completed,
            )
            for test in cls.generate(scenario)
            for line in test.results
        ]

    def __post_init__(self) -> None:
        super().__post_init__()
        self.tests = self.generate(self.scenario)
        self.head = 0
        self.sessions = 0

    def pending(self) -> int:
        return len(self.tests) - self.head

    def slow_delay(self) -> float:
        # a slow frame: up to 1.2 × the receiver's 30 s frame timer, so some exceed it
        return 1.2 * astm.RECEIVER_FRAME_TIMEOUT * self.scale

    def timer(self, seconds: float) -> float:
        return seconds * self.scale

    # --- the sender -------------------------------------------------------------------------------

    def serve(self, line: Line) -> None:
        while not self.stopping():
            if self.pending() == 0:
                self._idle(line)
                if self.exit_when_done:
                    return
                continue
            self.link_faults()
            try:
                self._session(line)
            except SessionAborted:
                # a pause before the next ENQ lets late bytes of the broken session arrive (and be
                # drained) rather than be taken for the answer to the new one
                self.sessions += 1
                time.sleep(self.timer(ABORT_PAUSE))

    def _idle(self, line: Line) -> None:
        """Nothing to send: answer a host's ENQ with NAK (this reader accepts no downloads)."""
        data = line.read(0.2)
        if astm.ENQ in data:
            line.write(bytes((astm.NAK,)))

    def _reply(self, line: Line) -> str:
        """The receiver's reply to what we just sent: ACK, NAK, EOT, ENQ, or TIMEOUT."""
        deadline = time.monotonic() + self.timer(astm.SENDER_REPLY_TIMEOUT)
        reader = astm.LinkReader()
        while True:
            data = line.read(max(0.0, deadline - time.monotonic()))
            if not data:
                if time.monotonic() >= deadline:
                    return "TIMEOUT"
                continue
            for token in reader.feed(data):
                if token.kind in ("ACK", "NAK", "EOT", "ENQ"):
                    return token.kind
                return "NAK"  # anything else where a reply belongs counts as NAK

    def _establish(self, line: Line) -> None:
        while True:
            line.drain()
            line.write(_ENQ)
            reply = self._reply(line)
            if reply == "ACK":
                return
            if reply == "ENQ":  # contention: the instrument waits at least 1 s, then tries again
                time.sleep(self.timer(astm.CONTENTION_DELAY_INSTRUMENT))
                continue
            if reply == "NAK":  # receiver busy: wait at least 10 s
                time.sleep(self.timer(astm.BUSY_RETRY_DELAY))
                continue
            line.write(_EOT)
            raise SessionAborted(reply.lower())

    def _session(self, line: Line) -> None:
        self._establish(line)
        fn = 1
        interrupt = False
        for _ in range(MESSAGES_PER_SESSION):
            if self.pending() == 0 or interrupt:
                break
            frames = astm.record_frames(proto.message_records(self.tests[self.head]), first_fn=fn)
            for n, frame in enumerate(frames):
                if self.faults.hit("busy"):  # the reader must start a measurement: it breaks off
                    line.write(_EOT)
                    raise SessionAborted("busy")
                reply = self._transmit(line, frame)
                if reply == "EOT":  # receiver interrupt: the frame counts as accepted; stop after it
                    interrupt = True
                if n == len(frames) - 1:
                    self.released_one(self.tests[self.head].test_no)
                    self.head += 1
            fn = (fn + len(frames)) % 8
        line.write(_EOT)
        self.sessions += 1

    def _transmit(self, line: Line, frame: bytes) -> str:
        """Send one frame until it is accepted (ACK or EOT); abort the session after 6 transmissions."""
        for _attempt in range(astm.MAX_TRANSMISSIONS):
            line.drain()
            self.link_faults()
            self.faults.send(line, frame, checksum=CHECKSUM, slow=self.slow_delay(), allow_dup=False, noise=NOISE)
            reply = self._reply(line)
            if reply == "TIMEOUT":
                line.write(_EOT)
                raise SessionAborted("timeout")
            if reply in ("ACK", "EOT"):
                if self.faults.hit("dup") or self.faults.hit("corrupt"):
                    continue  # the reply was garbled on the way in: send the same frame again
                return reply
        line.write(_EOT)
        raise SessionAborted("too many NAKs")

    def reset_link_state(self) -> None:
        pass
