"""Programs that behave as quick-test instruments on the same wire protocols, for tests and demos.

    lims simulate pesticide --listen socket://127.0.0.1:0 --seed 7 --count 1000 \\
        --faults corrupt=0.05,drop=0.05,dup=0.05,disconnect=0.01

Simulators import protocol constants from `instrument_drivers` and never import `lims`.
"""

from simulators.registry import SIMULATORS, create_simulator, open_endpoint
from simulators.scenario import Scenario, expected_readings

__all__ = ["SIMULATORS", "Scenario", "create_simulator", "expected_readings", "open_endpoint"]
