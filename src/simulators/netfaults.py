"""A TCP fault proxy: forwards a port to a target, cuts a share of connections mid-stream and runs outages.

`python -m simulators.netfaults --listen 127.0.0.1:8101 --target 127.0.0.1:8100 --cut 0.05
--outages every=60-120,seconds=30,mode=refuse --seed 1 --log events.jsonl`

Faults, all drawn from one seeded generator:

* **cut**: each new connection is, with probability ``cut``, aborted (TCP reset on both sides) once a
  random number of bytes (1 … ``cut_max_bytes``) has passed in a random direction: upstream, so the
  request is torn mid-body; downstream, so the request was delivered and its answer is lost.
* **outage**: for N seconds every connection is refused (the port is closed, a client gets
  ECONNREFUSED) or blackholed (accepted and never answered); connections open at its start are reset.
  Outages run on a schedule (a random gap within ``every``), or when asked (`start_outage`,
  `end_outage`; on the command line SIGUSR1 / SIGUSR2).

Every fault is logged as one event (a dict, also a JSON line in the ``--log`` file). The first line on
stdout is the address to connect to; a JSON summary goes to stderr at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TextIO

log = logging.getLogger(__name__)

OutageMode = Literal["refuse", "blackhole"]
MODES: tuple[OutageMode, ...] = ("refuse", "blackhole")
CHUNK = 65536
MAX_OUTAGE_SECONDS = 86400.0


class NetFaultSpecError(ValueError):
    """A fault setting that cannot be used."""


@dataclass(frozen=True)
class OutagePlan:
    """Scheduled outages: a gap drawn from ``every`` (seconds, min–max), then ``seconds`` of outage."""

    every: tuple[float, float]
    seconds: float
    mode: OutageMode = "refuse"
    count: int | None = None

    @classmethod
    def parse(cls, spec: str) -> OutagePlan:
        """`every=60-120,seconds=30,mode=refuse,count=10` → a plan (``every`` may be a single number)."""
        values: dict[str, str] = {}
        for part in spec.split(","):
            name, sep, value = part.strip().partition("=")
            if not sep or name not in ("every", "seconds", "mode", "count"):
                raise NetFaultSpecError(
                    f"outage setting {part!r}: use every=MIN-MAX,seconds=N[,mode=refuse|blackhole][,count=N]"
                )
            values[name] = value.strip()
        if "every" not in values or "seconds" not in values:
            raise NetFaultSpecError("outages need every= and seconds=")
        try:
            low, _, high = values["every"].partition("-")
            every = (float(low), float(high or low))
            seconds = float(values["seconds"])
            count = int(values["count"]) if "count" in values else None
        except ValueError:
            raise NetFaultSpecError(f"outage setting {spec!r} holds a value that is not a number") from None
        mode = values.get("mode", "refuse")
        if mode not in MODES:
            raise NetFaultSpecError(f"outage mode must be one of {', '.join(MODES)}, not {mode!r}")
        if not (0 < every[0] <= every[1] <= MAX_OUTAGE_SECONDS) or not 0 < seconds <= MAX_OUTAGE_SECONDS:
            raise NetFaultSpecError(f"outage gaps and lengths must lie within 0…{MAX_OUTAGE_SECONDS:.0f} s")
        if count is not None and count < 0:
            raise NetFaultSpecError("outage count must not be negative")
        return cls(every, seconds, mode, count)


def parse_address(text: str) -> tuple[str, int]:
    """`HOST:PORT` → (host, port), with a clear error for anything else."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise NetFaultSpecError(f"address must be HOST:PORT, not {text!r}")
    return host, int(port)


@dataclass
class _Conn:
    ident: int
    cut_direction: str | None
    cut_after: int
    writers: list[asyncio.StreamWriter] = field(default_factory=list)
    passed: Counter[str] = field(default_factory=Counter)
    done: bool = False


class FaultProxy:
    """The proxy itself, on the running asyncio loop: `await start()`, then `await close()`."""

    def __init__(
        self,
        target: tuple[str, int],
        listen: tuple[str, int] = ("127.0.0.1", 0),
        *,
        cut: float = 0.0,
        cut_max_bytes: int = 16384,
        outages: OutagePlan | None = None,
        seed: int = 0,
        event_log: TextIO | None = None,
        tap: Callable[[str, int], None] | None = None,
    ) -> None:
        if not 0 <= cut <= 1:
            raise NetFaultSpecError(f"cut share must lie within 0…1, got {cut}")
        if not 1 <= cut_max_bytes <= 1 << 30:
            raise NetFaultSpecError("cut_max_bytes must lie within 1…2^30")
        self.target = target
        self.host, self.port = listen
        self.cut = cut
        self.cut_max_bytes = cut_max_bytes
        self.outages = outages
        self.rng = random.Random(f"netfaults:{seed}")
        self.counts: Counter[str] = Counter()
        self.events: list[dict[str, Any]] = []
        self.event_log = event_log
        # Called with ("up" | "down", size) for every chunk forwarded: lets a harness time the bytes.
        self.tap = tap
        self.outage: OutageMode | None = None
        self._outage_end: asyncio.TimerHandle | None = None
        self._server: asyncio.Server | None = None
        self._conns: dict[int, _Conn] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._scheduler: asyncio.Task[None] | None = None
        self._next_id = 0
        self._started = time.monotonic()

    # -- events -------------------------------------------------------------------------------

    def _event(self, kind: str, **details: Any) -> None:
        self.counts[kind] += 1
        event = {"t": round(time.monotonic() - self._started, 3), "event": kind, **details}
        self.events.append(event)
        log.info("netfaults %s", event)
        if self.event_log is not None:
            self.event_log.write(json.dumps(event) + "\n")
            self.event_log.flush()

    # -- life cycle ---------------------------------------------------------------------------

    async def start(self) -> int:
        """Listen (port 0 takes a free one) and start the outage schedule; returns the port."""
        await self._listen()
        if self.outages is not None:
            self._scheduler = asyncio.create_task(self._schedule(self.outages))
        self._event("listening", port=self.port, target=f"{self.target[0]}:{self.target[1]}")
        return self.port

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._accept, self.host, self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _unlisten(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def close(self) -> None:
        """Stop listening, stop the schedule and reset every open connection."""
        if self._scheduler is not None:
            self._scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler
        if self._outage_end is not None:
            self._outage_end.cancel()
        await self._unlisten()
        for conn in list(self._conns.values()):
            self._abort(conn)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._event("closed", **{k: v for k, v in self.counts.items() if k != "closed"})

    # -- outages ------------------------------------------------------------------------------

    async def start_outage(self, seconds: float | None = None, mode: OutageMode = "refuse") -> None:
        """Begin an outage now (ending after `seconds`, or at `end_outage`); open connections are reset."""
        if mode not in MODES:
            raise NetFaultSpecError(f"outage mode must be one of {', '.join(MODES)}, not {mode!r}")
        if self.outage is not None:
            await self.end_outage()
        self.outage = mode
        self._event("outage_start", mode=mode, seconds=seconds)
        for conn in list(self._conns.values()):
            self._abort(conn)
        if mode == "refuse":
            await self._unlisten()
        if seconds is not None:
            loop = asyncio.get_running_loop()
            self._outage_end = loop.call_later(seconds, lambda: self._spawn(self.end_outage()))

    async def end_outage(self) -> None:
        """End the current outage (if any): connections are forwarded again."""
        if self._outage_end is not None:
            self._outage_end.cancel()
            self._outage_end = None
        if self.outage is None:
            return
        mode, self.outage = self.outage, None
        if mode == "blackhole":
            for conn in list(self._conns.values()):
                self._abort(conn)
        if self._server is None:
            await self._listen()
        self._event("outage_end", mode=mode)

    async def _schedule(self, plan: OutagePlan) -> None:
        done = 0
        while plan.count is None or done < plan.count:
            await asyncio.sleep(self.rng.uniform(*plan.every))
            await self.start_outage(None, plan.mode)
            await asyncio.sleep(plan.seconds)
            await self.end_outage()
            done += 1

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- forwarding ---------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._next_id += 1
        ident = self._next_id
        if self.outage == "blackhole":
            self._event("blackholed", conn=ident)
            conn = _Conn(ident, None, 0, [writer])
            self._conns[ident] = conn
            try:
                while await reader.read(CHUNK):
                    pass
            except (ConnectionError, OSError):
                pass
            finally:
                self._conns.pop(ident, None)
                self._abort(conn)
            return
        cut_direction: str | None = None
        cut_after = 0
        if self.cut and self.rng.random() < self.cut:
            cut_direction = self.rng.choice(("up", "down"))
            cut_after = self.rng.randint(1, self.cut_max_bytes)
        conn = _Conn(ident, cut_direction, cut_after, [writer])
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError as exc:
            self._event("target_unreachable", conn=ident, error=str(exc))
            self._abort(conn)
            return
        conn.writers.append(up_writer)
        self._conns[ident] = conn
        self.counts["connections"] += 1
        try:
            await asyncio.gather(
                self._pump(conn, "up", reader, up_writer),
                self._pump(conn, "down", up_reader, writer),
            )
        finally:
            self._conns.pop(ident, None)
            if conn.cut_direction is not None and not conn.done:
                self._event("cut_missed", conn=ident, direction=conn.cut_direction, after=conn.cut_after)
            for w in conn.writers:
                with contextlib.suppress(Exception):
                    w.close()

    async def _pump(self, conn: _Conn, direction: str, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        try:
            while not conn.done:
                data = await src.read(CHUNK)
                if not data:
                    with contextlib.suppress(OSError, RuntimeError):
                        if dst.can_write_eof():
                            dst.write_eof()
                    return
                if conn.cut_direction == direction and conn.passed[direction] + len(data) >= conn.cut_after:
                    keep = conn.cut_after - conn.passed[direction] - 1
                    if keep > 0:
                        dst.write(data[:keep])
                        await dst.drain()
                    conn.passed[direction] += max(keep, 0)
                    self._event("cut", conn=conn.ident, direction=direction, after=conn.passed[direction])
                    self._abort(conn)
                    return
                conn.passed[direction] += len(data)
                dst.write(data)
                await dst.drain()
                if self.tap is not None:
                    self.tap(direction, len(data))
        except (ConnectionError, OSError):
            self._abort(conn)

    def _abort(self, conn: _Conn) -> None:
        """Reset both sides of `conn` (a TCP RST, as when a mobile link drops mid-stream)."""
        conn.done = True
        for w in conn.writers:
            with contextlib.suppress(Exception):
                w.transport.abort()

    def summary(self) -> dict[str, Any]:
        """Counts of what the proxy did so far."""
        return {"port": self.port, "outage": self.outage, **dict(self.counts)}


class ProxyThread:
    """A `FaultProxy` on its own loop in a background thread, driven from plain (synchronous) code."""

    def __init__(self, target: tuple[str, int], listen: tuple[str, int] = ("127.0.0.1", 0), **options: Any) -> None:
        self.proxy = FaultProxy(target, listen, **options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="netfaults", daemon=True)

    def _call(self, coro: Any, timeout: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def start(self) -> int:
        """Start the loop and the proxy; returns the port it listens on."""
        self._thread.start()
        port: int = self._call(self.proxy.start())
        return port

    @property
    def port(self) -> int:
        """The port the proxy listens on."""
        return self.proxy.port

    def start_outage(self, seconds: float | None = None, mode: OutageMode = "refuse") -> None:
        """Begin an outage (see `FaultProxy.start_outage`)."""
        self._call(self.proxy.start_outage(seconds, mode))

    def end_outage(self) -> None:
        """End the current outage."""
        self._call(self.proxy.end_outage())

    def summary(self) -> dict[str, Any]:
        """Counts of what the proxy did so far."""
        result: dict[str, Any] = self._call(self._snapshot())
        return result

    async def _snapshot(self) -> dict[str, Any]:
        return self.proxy.summary()

    def close(self) -> None:
        """Stop the proxy and its loop."""
        if self._thread.is_alive():
            self._call(self.proxy.close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> ProxyThread:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_parser(prog: str = "python -m simulators.netfaults") -> argparse.ArgumentParser:
    """The command line's arguments."""
    p = argparse.ArgumentParser(prog=prog, description="Forward a TCP port with cut connections and outages.")
    p.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT to listen on (port 0: a free one)")
    p.add_argument("--target", required=True, help="HOST:PORT to forward to")
    p.add_argument("--cut", type=float, default=0.0, help="share of connections cut mid-stream, 0…1 (e.g. 0.05)")
    p.add_argument("--cut-max-bytes", type=int, default=16384, help="a cut comes after 1…this many bytes")
    p.add_argument("--outages", help="every=MIN-MAX,seconds=N[,mode=refuse|blackhole][,count=N]")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice (default 0)")
    p.add_argument("--log", type=Path, help="append one JSON line per event to this file")
    p.add_argument("--duration", type=float, help="exit after this many seconds")
    p.add_argument("-v", "--verbose", action="store_true")
    return p


def main(argv: Sequence[str] | None = None, prog: str = "python -m simulators.netfaults") -> int:
    """Run the proxy until SIGTERM/SIGINT or `--duration`; SIGUSR1 starts an outage, SIGUSR2 ends it."""
    args = build_parser(prog).parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, stream=sys.stderr)
    try:
        target = parse_address(args.target)
        listen = parse_address(args.listen)
        outages = OutagePlan.parse(args.outages) if args.outages else None
        event_log = args.log.open("a", encoding="utf-8") if args.log else None
        proxy = FaultProxy(
            target,
            listen,
            cut=args.cut,
            cut_max_bytes=args.cut_max_bytes,
            outages=outages,
            seed=args.seed,
            event_log=event_log,
        )
    except (NetFaultSpecError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(_serve(proxy, args.duration))
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if event_log is not None:
            event_log.close()


async def _serve(proxy: FaultProxy, duration: float | None) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    handlers: dict[signal.Signals, Callable[[], None]] = {
        signal.SIGTERM: stop.set,
        signal.SIGINT: stop.set,
        signal.SIGUSR1: lambda: proxy._spawn(proxy.start_outage()),
        signal.SIGUSR2: lambda: proxy._spawn(proxy.end_outage()),
    }
    for signum, handler in handlers.items():
        loop.add_signal_handler(signum, handler)
    port = await proxy.start()
    print(f"{proxy.host}:{port}", flush=True)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), duration)
    await proxy.close()
    print(json.dumps(proxy.summary()), file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
