"""Driver for the multi-channel enzyme-inhibition pesticide analyzer (binary protocol, host polls).

Exchange: INFO once per connection, then POLL → RECORD | EMPTY | BUSY; after every channel of a record
is stored, ACK(run) → ACKED. Every command is re-sent after a lost or garbled answer; the analyzer keeps
a record until it is acknowledged, so nothing is lost, and the readings' keys make re-sends harmless.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from instrument_drivers.base import Driver, Unit
from instrument_drivers.errors import LinkError
from instrument_drivers.protocols import pesticide as proto
from instrument_drivers.reading import Reading
from instrument_drivers.timers import scaled
from instrument_drivers.transport import SerialLink

UNIT = "%"
EMPTY_POLL_INTERVAL = 0.2  # seconds between polls of an analyzer with nothing stored (scaled)
MAX_ATTEMPTS = 8  # consecutive unanswered commands before the link counts as down


class PesticideDriver(Driver):
    family = "pesticide"
    default_baud = proto.DEFAULT_BAUD

    def __init__(self, url: str, **options: object) -> None:
        super().__init__(url, **options)  # type: ignore[arg-type]
        self._link: SerialLink | None = None
        self._parser = proto.FrameParser()
        self.info: proto.Info | None = None

    # --- connection ---------------------------------------------------------------------------------

    def _connect(self) -> None:
        self._link = SerialLink(self.url, self.default_baud)
        self._parser = proto.FrameParser()
        frame = self._exchange(proto.CMD_INFO, b"", _kind(proto.RSP_INFO))
        try:
            self.info = proto.Info.decode(frame.data)
        except proto.FrameError as exc:
            raise LinkError(f"analyzer identity unreadable: {exc}") from exc
        self.serial = self.info.serial

    def _disconnect(self) -> None:
        if self._link is not None:
            self._link.close()
            self._link = None

    # --- records ------------------------------------------------------------------------------------

    def _fetch(self, timeout: float) -> Unit | None:
        deadline = time.monotonic() + timeout
        while True:
            frame = self._exchange(proto.CMD_POLL, b"", _kind(proto.RSP_RECORD, proto.RSP_EMPTY, proto.RSP_BUSY))
            if frame.cmd == proto.RSP_RECORD:
                try:
                    record = proto.Record.decode(frame.data)
                except proto.FrameError as exc:
                    self.stats["bad_records"] += 1
                    self.log.warning("record rejected: %s", exc)
                    continue
                assert self.serial is not None
                return Unit(readings_from_record(self.serial, record), token=record.run)
            pause = EMPTY_POLL_INTERVAL * self.scale
            if frame.cmd == proto.RSP_BUSY:
                self.stats["busy"] += 1
                pause = max(pause, proto.decode_busy(frame.data) / 1000 * self.scale)
            if time.monotonic() + pause >= deadline:
                time.sleep(max(0.0, deadline - time.monotonic()))
                return None
            time.sleep(pause)

    def _release(self, unit: Unit) -> None:
        run = int(unit.token)

        def answers_this_ack(frame: proto.Frame) -> bool:
            # an ACKED for another run is the late answer to an earlier ACK: skip it
            return frame.cmd == proto.RSP_ACKED and len(frame.data) == 6 and proto.decode_acked(frame.data)[0] == run

        frame = self._exchange(proto.CMD_ACK, run.to_bytes(4, "little"), answers_this_ack)
        self.log.debug("run %d released, %d stored", run, proto.decode_acked(frame.data)[1])

    # --- one command/answer exchange ----------------------------------------------------------------

    def _exchange(self, cmd: int, data: bytes, expect: Callable[[proto.Frame], bool]) -> proto.Frame:
        """Send `cmd` until an `expect`ed answer arrives; other frames are stale answers and skipped."""
        link = self._link
        if link is None:
            raise LinkError("not connected")
        request = proto.encode_frame(cmd, data)
        timeout = scaled(proto.RESPONSE_TIMEOUT, self.scale, proto.RESPONSE_TIMEOUT_FLOOR)
        for _attempt in range(MAX_ATTEMPTS):
            link.flush_input()
            self._parser = parser = proto.FrameParser()
            link.write(request)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                chunk = link.read(deadline)
                if not chunk:
                    break
                parser.feed(chunk)
                for frame in parser.frames():
                    if expect(frame):
                        self.stats["frames"] += 1
                        self.stats["rejected_frames"] += parser.rejected
                        return frame
                    if frame.cmd == proto.RSP_NAK:
                        self.stats["naks"] += 1
                        deadline = time.monotonic()  # the analyzer saw a garbled command: send it again
                        break
                    self.stats["stale_frames"] += 1
            self.stats["timeouts"] += 1
            self.stats["rejected_frames"] += parser.rejected
        raise LinkError(f"no valid answer to command {cmd:#04x} after {MAX_ATTEMPTS} attempts")


def _kind(*cmds: int) -> Callable[[proto.Frame], bool]:
    return lambda frame: frame.cmd in cmds


def readings_from_record(serial: str, record: proto.Record) -> list[Reading]:
    """The readings of one analyzer run: one per channel."""
    return [
        Reading(
            instrument_serial=serial,
            family=PesticideDriver.family,
            sequence=ch.result_seq,
            item_code=record.item_code,
            channel=ch.channel,
            sample_label_id=ch.sample_id or None,
            raw={
                "run": record.run,
                "control_dA": ch.control_dA,
                "sample_dA": ch.sample_dA,
                "inhibition_pct": ch.inhibition,
            },
            value=ch.inhibition,
            unit=UNIT,
            judgement=ch.judgement,
            instrument_time=record.time,
        )
        for ch in record.channels
    ]
