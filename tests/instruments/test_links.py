"""Driver ↔ simulator over real pty pairs and socket:// ports, for every family and every fault kind:
exactly the readings the simulator produced arrive, none lost, none twice, every field intact."""

from __future__ import annotations

import pytest

from simulators.faults import KINDS
from tests.instruments.harness import assert_exactly, collect, simulator

# (family, listen URL) for every transport each family speaks
TRANSPORTS = [
    ("pesticide", "socket://127.0.0.1:0"),
    ("pesticide", "pty"),
    ("gold", "socket://127.0.0.1:0"),
    ("gold", "pty"),
    ("spectro", "modbus-rtu+socket://127.0.0.1:0"),
    ("spectro", "modbus-tcp://127.0.0.1:0"),
    ("spectro", "pty"),
]
ACCEPTANCE_FAULTS = "corrupt=0.05,drop=0.05,dup=0.05,disconnect=0.01"
EVERY_FAULT = (
    "corrupt=0.04,badcrc=0.03,drop=0.04,dup=0.04,split=0.05,slow=0.03,garbage=0.04,busy=0.04,"
    "disconnect=0.01,restart=0.005"
)
RATE = {"disconnect": 0.15, "restart": 0.1, "busy": 0.25}


def _listen_for(family: str, n: int) -> str:
    """Spread the single-fault runs over the transports of each family."""
    options = [listen for fam, listen in TRANSPORTS if fam == family]
    return options[n % len(options)]


@pytest.mark.parametrize("family", ["pesticide", "gold", "spectro"])
@pytest.mark.parametrize("fault", KINDS)
def test_each_fault_kind(family: str, fault: str) -> None:
    listen = _listen_for(family, KINDS.index(fault))
    with simulator(family, listen, count=24, seed=KINDS.index(fault), faults=f"{fault}={RATE.get(fault, 0.12)}") as s:
        got, _stats = collect(family, s.driver_url, count=24)
        assert_exactly(s.expected(), got)
        assert len(got) == 24, "a driver instance yields a reading once"
        assert s.sim.faults.counts[fault] > 0, f"the run never injected {fault}"


@pytest.mark.slow
@pytest.mark.parametrize(("family", "listen"), TRANSPORTS)
def test_every_transport_with_the_acceptance_fault_mix(family: str, listen: str) -> None:
    with simulator(family, listen, count=80, seed=11, faults=ACCEPTANCE_FAULTS) as s:
        got, _stats = collect(family, s.driver_url, count=80)
        assert_exactly(s.expected(), got)
        assert len(got) == 80
        assert sum(s.sim.faults.counts.values()) > 0


@pytest.mark.slow
@pytest.mark.parametrize("family", ["pesticide", "gold", "spectro"])
def test_all_fault_kinds_at_once(family: str) -> None:
    listen = {"pesticide": "socket://127.0.0.1:0", "gold": "pty", "spectro": "modbus-tcp://127.0.0.1:0"}[family]
    with simulator(family, listen, count=60, seed=5, faults=EVERY_FAULT) as s:
        got, _ = collect(family, s.driver_url, count=60)
        assert_exactly(s.expected(), got)


@pytest.mark.parametrize(("family", "listen"), TRANSPORTS)
def test_clean_line_and_idle_exit(family: str, listen: str) -> None:
    with simulator(family, listen, count=12, seed=3) as s:
        got, stats = collect(family, s.driver_url, idle_exit=1.0)
        assert_exactly(s.expected(), got)
        assert len(got) == 12 and stats["connects"] == 1
        assert s.sim.pending() == 0, "every record was released on the instrument"
