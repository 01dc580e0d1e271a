"""Simulator kinds and listen URLs."""

from __future__ import annotations

import importlib
from typing import Any

from instrument_drivers.protocols import astm
from instrument_drivers.protocols import pesticide as pest_proto
from instrument_drivers.protocols import spectro as spec_proto
from simulators.base import Simulator
from simulators.faults import FaultPlan
from simulators.link import Endpoint, Pacing, PtyEndpoint, SocketEndpoint
from simulators.scenario import Scenario

SIMULATORS: dict[str, tuple[str, str]] = {
    "pesticide": ("simulators.pesticide", "PesticideSimulator"),
    "gold": ("simulators.gold", "GoldSimulator"),
    "spectro": ("simulators.spectro", "SpectroSimulator"),
}
DEFAULT_BAUD = {
    "pesticide": pest_proto.DEFAULT_BAUD,
    "gold": astm.DEFAULT_BAUD,
    "spectro": spec_proto.DEFAULT_BAUD,
}


class ListenUrlError(ValueError):
    pass


def _host_port(rest: str, url: str) -> tuple[str, int]:
    host, sep, port = rest.split("?", 1)[0].rstrip("/").rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ListenUrlError(f"expected HOST:PORT in {url!r}")
    return host.strip("[]"), int(port)


def open_endpoint(kind: str, listen: str, baud: int | None = None, unit: int = 1) -> tuple[Endpoint, str, str]:
    """(endpoint, framing, driver URL) for a listen URL.

    Listen URLs: ``socket://HOST:PORT`` (0 picks a free port), ``pty``, and for spectro also
    ``modbus-tcp://HOST:PORT`` and ``modbus-rtu+socket://HOST:PORT``. The driver URL is what a driver
    should open to reach the endpoint (for a pty: the device path).
    """
    if kind not in SIMULATORS:
        raise ListenUrlError(f"unknown simulator {kind!r}; known: {', '.join(sorted(SIMULATORS))}")
    rate = baud or DEFAULT_BAUD[kind]
    if listen == "pty":
        ep: Endpoint = PtyEndpoint(Pacing(rate))
        return ep, "rtu", ep.url
    for scheme in ("socket://", "modbus-tcp://", "modbus-rtu+socket://"):
        if listen.startswith(scheme):
            host, port = _host_port(listen[len(scheme) :], listen)
            break
    else:
        raise ListenUrlError(
            f"listen URL must be socket://HOST:PORT, pty, modbus-tcp://… or modbus-rtu+socket://…, not {listen!r}"
        )
    if kind != "spectro" and scheme != "socket://":
        raise ListenUrlError(f"{kind} speaks a serial protocol: listen on socket://HOST:PORT or pty")
    if scheme == "modbus-tcp://":
        sep = SocketEndpoint(host, port, Pacing(None))
        return sep, "tcp", f"modbus-tcp://{sep.host}:{sep.port}?unit={unit}"
    sep = SocketEndpoint(host, port, Pacing(rate))
    if kind == "spectro":
        return sep, "rtu", f"modbus-rtu://socket://{sep.host}:{sep.port}?baud={rate}&unit={unit}"
    return sep, "rtu", sep.url


def create_simulator(
    kind: str, scenario: Scenario, endpoint: Endpoint, faults: FaultPlan | None = None, **options: Any
) -> Simulator:
    module, name = SIMULATORS[kind]
    cls = getattr(importlib.import_module(module), name)
    sim: Simulator = cls(scenario, endpoint, faults or FaultPlan(), **options)
    return sim
