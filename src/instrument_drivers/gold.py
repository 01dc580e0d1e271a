"""Driver for the colloidal gold card reader: the host (receiver) side of ASTM E1381 / E1394.

The reader sends; the driver answers. Every good frame with the expected frame number is ACKed, a
re-sent frame (same number as the last accepted one) is ACKed and dropped, anything else is NAKed.
The frame that completes a message (its L record) is ACKed only once every reading of the message
has been acknowledged by the caller, i.e. stored: a crash before that makes the reader send the whole
message again. The driver never sends ENQ (it has nothing to send), so it can never be in contention.
"""

from __future__ import annotations

import time
from collections import deque

from instrument_drivers.base import Driver, Unit
from instrument_drivers.errors import LinkError
from instrument_drivers.protocols import astm
from instrument_drivers.protocols import gold as proto
from instrument_drivers.reading import Reading
from instrument_drivers.transport import SerialLink

_ACK = bytes((astm.ACK,))
_NAK = bytes((astm.NAK,))


class GoldDriver(Driver):
    family = "gold"
    default_baud = astm.DEFAULT_BAUD

    def __init__(self, url: str, **options: object) -> None:
        super().__init__(url, **options)  # type: ignore[arg-type]
        self._link: SerialLink | None = None
        self._reset_session()
        self.rejected: deque[tuple[str, list[str]]] = deque(maxlen=100)  # (reason, records) kept for a human

    def _reset_session(self) -> None:
        self._reader = astm.LinkReader()
        self._assembler = astm.RecordAssembler()
        self._tokens: deque[astm.Token] = deque()
        self._receiving = False
        self._expected_fn = 1
        self._last_fn: int | None = None
        self._records: list[str] = []
        self._last_activity = time.monotonic()
        self._completed_at = 0.0

    def _connect(self) -> None:
        self._link = SerialLink(self.url, self.default_baud)
        self._reset_session()

    def _disconnect(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None

    def _send(self, byte: bytes) -> None:
        if self._link is None:
            raise LinkError("not connected")
        self._link.write(byte)

    # --- receiving ----------------------------------------------------------------------------------

    def _fetch(self, timeout: float) -> Unit | None:
        link = self._link
        if link is None:
            raise LinkError("not connected")
        deadline = time.monotonic() + timeout
        frame_timeout = astm.RECEIVER_FRAME_TIMEOUT * self.scale
        while True:
            while self._tokens:
                unit = self._handle(self._tokens.popleft())
                if unit is not None:
                    return unit
            now = time.monotonic()
            if self._receiving and now - self._last_activity >= frame_timeout:
                self.log.warning("no frame for %.1f s: back to neutral, partial message dropped", frame_timeout)
                self.stats["receiver_timeouts"] += 1
                self._to_neutral()
            if now >= deadline:
                return None
            wait_until = min(deadline, self._last_activity + frame_timeout) if self._receiving else deadline
            data = link.read(max(wait_until, now))
            if data:
                self._last_activity = time.monotonic()
                self._tokens.extend(self._reader.feed(data))

    def _to_neutral(self) -> None:
        if self._records or self._assembler.partial:
            self.stats["incomplete_messages"] += 1
        self._receiving = False
        self._records = []
        self._assembler.reset()

    def _handle(self, token: astm.Token) -> Unit | None:
        kind = token.kind
        if kind == "ENQ":
            if self._receiving:
                # the sender only sends ENQ from neutral: this one is noise, or a sender that restarted
                # and will time out, send EOT and try again; answering it could put a second reply
                # on the line for one frame
                self.stats["enq_while_receiving"] += 1
                return None
            self._receiving = True
            self._expected_fn, self._last_fn = 1, None
            self._send(_ACK)
            return None
        if kind == "EOT":
            if self._receiving:
                self._to_neutral()
            return None
        if not self._receiving or kind in ("ACK", "NAK"):
            self.stats["ignored_tokens"] += 1
            return None
        if kind == "bad":
            self.stats["bad_frames"] += 1
            if astm.looks_like_frame(token.raw):
                self._send(_NAK)
            return None
        if token.fn == self._last_fn:
            self.stats["duplicate_frames"] += 1
            self._send(_ACK)
            return None
        if token.fn != self._expected_fn:
            self.stats["frame_number_errors"] += 1
            self._send(_NAK)
            return None
        self._last_fn, self._expected_fn = token.fn, (token.fn + 1) % 8
        self.stats["frames"] += 1
        unit = None
        for raw in self._assembler.add(token.text, token.final):
            record = raw.decode("latin-1")
            if record.startswith("H"):
                if self._records:
                    self.stats["incomplete_messages"] += 1
                self._records = [record]
            elif self._records:
                self._records.append(record)
                if record.startswith("L"):
                    unit = self._message_done(self._records)
                    self._records = []
                    self._completed_at = time.monotonic()
            else:
                self.stats["records_outside_message"] += 1
        if unit is None:
            self._send(_ACK)
        return unit  # its final frame is ACKed by _release once the readings are stored

    def _message_done(self, records: list[str]) -> Unit | None:
        try:
            test = proto.parse_message(records)
        except proto.MessageError as exc:
            self.stats["bad_messages"] += 1
            self.log.error("message rejected (%s): %r", exc, records)
            self.rejected.append((str(exc), list(records)))
            return None
        self.serial = test.serial
        readings = readings_from_test(test)
        return Unit(readings, token=test.test_no)

    def _release(self, unit: Unit) -> None:
        # An ACK that reaches the sender after its 15 s timer could be taken for the answer to a later
        # transmission. Past half that time stay silent: the sender times out and sends the message
        # again, and its readings, known by now, are released at once without being yielded again.
        if time.monotonic() - self._completed_at > 0.5 * astm.SENDER_REPLY_TIMEOUT * self.scale:
            self.stats["late_ack_withheld"] += 1
            return
        self._send(_ACK)

    def _fetch_window(self) -> float:
        return 0.5


def readings_from_test(test: proto.CardTest) -> list[Reading]:
    """The readings of one card: one per line (item)."""
    return [
        Reading(
            instrument_serial=test.serial,
            family=GoldDriver.family,
            sequence=test.sequence(line.position),
            item_code=line.item_code,
            channel=None,
            sample_label_id=test.sample_id or None,
            raw={
                "test_no": test.test_no,
                "line": line.position,
                "t": line.t,
                "c": line.c,
                "tc": line.ratio,
                "cutoff": line.cutoff,
                "kit_lot": line.kit_lot,
                "operator": test.operator,
            },
            value=line.ratio,
            unit=proto.UNIT,
            judgement=line.judgement,
            instrument_time=line.completed,
        )
        for line in test.results
    ]
