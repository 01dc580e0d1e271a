"""Simulated colloidal gold card reader: the sender side of ASTM E1381, one E1394 message per card.

Session: ENQ → (ACK) → frames → EOT. A card is released once the frame that carries its L record is
ACKed. Timers (scaled by LIMS_LINK_TIMER_SCALE): 15 s for any reply, 10 s after a NAK to ENQ, 1 s after
ENQ/ENQ contention; a frame is sent at most 6 times, then the session is ended with EOT. Before every
ENQ and every frame the line is drained, so a late reply to an earlier transmission is never taken for
the reply to this one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from instrument_drivers.protocols import astm
from instrument_drivers.protocols import gold as proto
from simulators.base import Simulator
from simulators.link import Line

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


class SessionAborted(Exception):
    """The session ended early (timeout, too many NAKs, receiver interrupt or our own busy EOT)."""


@dataclass
class GoldSimulator(Simulator):
    family = "gold"
    response_timeout = astm.SENDER_REPLY_TIMEOUT

    def __post_init__(self) -> None:
        super().__post_init__()
        self.tests = self.scenario.gold_tests()
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
