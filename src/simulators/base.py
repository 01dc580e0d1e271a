"""What every simulator shares: the accept loop, fault-driven hang-ups and restarts, and bookkeeping."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from instrument_drivers.reading import Reading
from instrument_drivers.timers import scaled, timer_scale
from simulators.faults import FaultPlan
from simulators.link import Disconnected, Endpoint, Line
from simulators.scenario import Scenario

log = logging.getLogger("simulators")


class HangUp(Exception):
    """The simulator decided to pull the cable (fault `disconnect`)."""


class Restart(Exception):
    """The simulated instrument reboots (fault `restart`): link state lost, stored results kept."""


@dataclass
class Simulator:
    scenario: Scenario
    endpoint: Endpoint
    faults: FaultPlan = field(default_factory=FaultPlan)
    exit_when_done: bool = False
    scale: float = field(default_factory=timer_scale)
    on_release: Callable[[int], None] | None = None

    family = "base"
    response_timeout = 1.0  # the driver's answer timeout (seconds, unscaled) - `slow` delays relate to it
    response_floor = 0.0

    def __post_init__(self) -> None:
        self.released = 0  # records the host has acknowledged
        self.connections = 0
        self._stop = False
        self._end: float | None = None

    # --- to implement -----------------------------------------------------------------------------

    @classmethod
    def generate(cls, scenario: Scenario) -> list[Any]:
        """What the instrument has measured for `scenario`, as its codec's records."""
        raise NotImplementedError

    @classmethod
    def expected(cls, scenario: Scenario) -> list[Reading]:
        """The readings a correct driver yields for `scenario`, in the order the instrument sends them
        (the oracle: written from the records, independently of the driver's decoding)."""
        raise NotImplementedError

    def pending(self) -> int:
        """Records not yet acknowledged by the host."""
        raise NotImplementedError

    def serve(self, line: Line) -> None:
        """Talk to the host on `line` until it hangs up (Disconnected) or a fault intervenes."""
        raise NotImplementedError

    def reset_link_state(self) -> None:
        """Forget everything volatile (partial frames, session state) - on reconnect and restart."""

    # --- running ----------------------------------------------------------------------------------

    def done(self) -> bool:
        return self.pending() == 0

    def stop(self) -> None:
        self._stop = True

    def stopping(self) -> bool:
        return self._stop or (self._end is not None and time.monotonic() >= self._end)

    def run(self, duration: float | None = None) -> None:
        """Serve until stopped, until `duration` has passed, or (with exit_when_done) all is released."""
        self._end = None if duration is None else time.monotonic() + duration
        while not self.stopping() and not (self.exit_when_done and self.done()):
            line = self.endpoint.accept(0.1)
            if line is None:
                continue
            self.connections += 1
            self.reset_link_state()
            try:
                self.serve(line)
                line.close()
            except Disconnected:
                log.debug("host hung up")
                line.close()
            except HangUp:
                log.debug("fault: cable pulled")
                self.endpoint.hang_up(line, self.silence())
            except Restart:
                log.debug("fault: instrument restart")
                self.endpoint.hang_up(line, self.boot_time())

    def answer_timeout(self) -> float:
        """The host's answer timeout as the driver computes it."""
        return scaled(self.response_timeout, self.scale, self.response_floor)

    def silence(self) -> float:
        """How long a pulled cable stays pulled (2 s, scaled)."""
        return max(0.1, 2.0 * self.scale)

    def boot_time(self) -> float:
        """How long a restart takes (5 s, scaled)."""
        return max(0.2, 5.0 * self.scale)

    def slow_delay(self) -> float:
        """Longest extra delay of a `slow` answer: 1.5 times the host's answer timeout."""
        return 1.5 * self.answer_timeout()

    def link_faults(self) -> None:
        """Raise HangUp / Restart when those faults hit (call once per exchange)."""
        if self.faults.hit("disconnect"):
            raise HangUp
        if self.faults.hit("restart"):
            raise Restart

    def released_one(self, token: int) -> None:
        self.released += 1
        if self.on_release is not None:
            self.on_release(token)
