"""Fault injection: `corrupt=0.05,drop=0.05,dup=0.05,disconnect=0.01` → a seeded plan the simulators ask.

Kinds (each a probability per frame or per exchange):

* ``corrupt``  – one byte of an outgoing frame is changed; an incoming frame is taken as garbled
* ``badcrc``   – the frame's checksum is wrong (everything else intact)
* ``drop``     – a frame is not sent at all
* ``dup``      – a frame is sent twice (for ASTM: re-sent as if its ACK was garbled)
* ``split``    – a frame goes out in two pieces with a pause between
* ``slow``     – the answer comes late, sometimes after the peer's timeout
* ``garbage``  – random bytes on the line before a frame
* ``busy``     – the instrument answers "busy" (pesticide BUSY, Modbus exception 06, ASTM: EOT mid-message)
* ``disconnect`` – the cable is pulled (socket closed / pty silent for a while)
* ``restart``  – the instrument reboots: link state lost, stored results kept
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field

from simulators.link import Line

KINDS = ("corrupt", "badcrc", "drop", "dup", "split", "slow", "garbage", "busy", "disconnect", "restart")
ALIASES = {"checksum": "badcrc", "crc": "badcrc", "duplicate": "dup", "reboot": "restart"}


class FaultSpecError(ValueError):
    pass


@dataclass
class FaultPlan:
    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    counts: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"faults:{self.seed}")

    @classmethod
    def parse(cls, spec: str | None, seed: int = 0) -> FaultPlan:
        rates: dict[str, float] = {}
        for part in (spec or "").split(","):
            part = part.strip()
            if not part:
                continue
            name, sep, value = part.partition("=")
            name = ALIASES.get(name.strip().lower(), name.strip().lower())
            if name not in KINDS:
                raise FaultSpecError(f"unknown fault {name!r}; known: {', '.join(KINDS)}")
            try:
                rate = float(value) if sep else 0.05
            except ValueError:
                raise FaultSpecError(f"fault rate for {name} must be a number, not {value!r}") from None
            if not 0 <= rate <= 1:
                raise FaultSpecError(f"fault rate for {name} must be within 0…1, got {rate}")
            rates[name] = rate
        return cls(rates, seed)

    def hit(self, kind: str) -> bool:
        rate = self.rates.get(kind, 0.0)
        if rate and self.rng.random() < rate:
            self.counts[kind] += 1
            return True
        return False

    def garble(self, frame: bytes, checksum: slice | None = None) -> bytes:
        """`frame` with the `corrupt` and `badcrc` faults applied (when they hit)."""
        data = bytearray(frame)
        if data and self.hit("corrupt"):
            i = self.rng.randrange(len(data))
            data[i] ^= self.rng.randrange(1, 256)
        if checksum is not None and self.hit("badcrc"):
            i = self.rng.randrange(*checksum.indices(len(data))[:2])
            data[i] = (data[i] + 1) & 0xFF if data[i] not in (0x39, 0x46) else 0x41  # stays hex for ASTM
        return bytes(data)

    def send(
        self,
        line: Line,
        frame: bytes,
        *,
        checksum: slice | None = None,
        slow: float = 0.0,
        allow_dup: bool = True,
        noise: bytes | None = None,
    ) -> None:
        """Put `frame` on `line` with the transmission faults: garbage, drop, corrupt/badcrc, slow,
        split and dup. `slow` is the longest extra delay for the `slow` fault; `noise` the bytes
        garbage is drawn from (default: any byte)."""
        if self.hit("garbage"):
            size = self.rng.randrange(1, 24)
            if noise is None:
                line.write(bytes(self.rng.randrange(256) for _ in range(size)))
            else:
                line.write(bytes(self.rng.choice(noise) for _ in range(size)))
        if self.hit("drop"):
            return
        data = self.garble(frame, checksum)
        if slow and self.hit("slow"):
            time.sleep(self.rng.uniform(0.2, 1.0) * slow)
        if len(data) > 1 and self.hit("split"):
            cut = self.rng.randrange(1, len(data))
            line.write(data[:cut])
            time.sleep(self.rng.uniform(0.001, 0.02))
            line.write(data[cut:])
        else:
            line.write(data)
        if allow_dup and self.hit("dup"):
            line.write(data)
