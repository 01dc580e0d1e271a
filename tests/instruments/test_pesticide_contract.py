"""The driver contract for the enzyme-inhibition pesticide analyzer (binary protocol, serial or TCP)."""

from tests.instruments.contract import DriverContract


class TestPesticideContract(DriverContract):
    family = "pesticide"
    transports = ("socket://127.0.0.1:0", "pty")
