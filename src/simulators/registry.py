"""Simulators by family name (read from `instrument_drivers.family_registry`) and their listen URLs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from instrument_drivers import family_registry as families
from instrument_drivers.errors import UnknownDriverError
from simulators.base import Simulator
from simulators.faults import FaultPlan
from simulators.link import Endpoint, Pacing, PtyEndpoint, SocketEndpoint
from simulators.scenario import Scenario

SIMULATORS: Mapping[str, tuple[str, str]] = families.PartTable("simulator")
SCHEMES = ("socket://", "modbus-tcp://", "modbus-rtu+socket://")


class ListenUrlError(ValueError):
    pass


def default_baud(kind: str) -> int:
    """The line speed a family's instrument uses unless told otherwise."""
    return families.spec(kind).default_baud


def _host_port(rest: str, url: str) -> tuple[str, int]:
    host, sep, port = rest.split("?", 1)[0].rstrip("/").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ListenUrlError(f"expected HOST:PORT in {url!r}")
    return host.strip("[]"), int(port)


def open_endpoint(kind: str, listen: str, baud: int | None = None, unit: int = 1) -> tuple[Endpoint, str, str]:
    """(endpoint, framing, driver URL) for a listen URL.

    Listen URLs: ``socket://HOST:PORT`` (0 picks a free port), ``pty``, and for families that speak
    Modbus also ``modbus-tcp://HOST:PORT`` and ``modbus-rtu+socket://HOST:PORT``. The driver URL is what
    a driver should open to reach the endpoint (for a pty: the device path).
    """
    try:
        spec = families.spec(kind)
    except UnknownDriverError:
        raise ListenUrlError(f"unknown simulator {kind!r}; known: {', '.join(families.names())}") from None
    rate = baud or spec.default_baud
    if listen == "pty":
        ep: Endpoint = PtyEndpoint(Pacing(rate))
        return ep, "rtu", ep.url
    for scheme in SCHEMES:
        if listen.startswith(scheme):
            host, port = _host_port(listen[len(scheme) :], listen)
            break
    else:
        raise ListenUrlError(
            f"listen URL must be socket://HOST:PORT, pty, modbus-tcp://… or modbus-rtu+socket://…, not {listen!r}"
        )
    if not spec.modbus and scheme != "socket://":
        raise ListenUrlError(f"{kind} speaks a serial protocol: listen on socket://HOST:PORT or pty")
    if scheme == "modbus-tcp://":
        sep = SocketEndpoint(host, port, Pacing(None))
        return sep, "tcp", f"modbus-tcp://{sep.host}:{sep.port}?unit={unit}"
    sep = SocketEndpoint(host, port, Pacing(rate))
    if spec.modbus:
        return sep, "rtu", f"modbus-rtu://socket://{sep.host}:{sep.port}?baud={rate}&unit={unit}"
    return sep, "rtu", sep.url


FOLDER = "folder://"


def listen_folder(kind: str, listen: str) -> Path | None:
    """The folder a camera's simulator saves its photos into (``folder:///path`` or a directory path), or None for
    a stream listen URL; ListenUrlError for a folder given to a family whose instrument saves no files."""
    if listen.startswith(FOLDER):
        folder = Path(listen[len(FOLDER) :])
    elif listen != "pty" and "://" not in listen and (listen.startswith((".", "/")) or Path(listen).is_dir()):
        folder = Path(listen)
    else:
        return None
    try:
        cls = simulator_class(kind)
    except UnknownDriverError:
        raise ListenUrlError(f"unknown simulator {kind!r}; known: {', '.join(families.names())}") from None
    if not hasattr(cls, "write_folder"):
        raise ListenUrlError(
            f"{kind} sends its readings over a link: listen on socket://HOST:PORT or pty, not a folder"
        )
    return folder


def simulator_class(kind: str) -> type[Simulator]:
    """The simulator class of family `kind` (imported now)."""
    cls: type[Simulator] = families.spec(kind).load("simulator")
    return cls


def create_simulator(
    kind: str, scenario: Scenario, endpoint: Endpoint, faults: FaultPlan | None = None, **options: Any
) -> Simulator:
    """A simulator of family `kind` serving `scenario` on `endpoint` (not running yet: call `run()`)."""
    sim: Simulator = simulator_class(kind)(scenario, endpoint, faults or FaultPlan(), **options)
    return sim
