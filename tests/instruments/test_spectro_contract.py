"""The driver contract for the spectrophotometric analyzer: Modbus TCP, RTU over a socket, RTU on a pty."""

from tests.instruments.contract import DriverContract


class TestSpectroContract(DriverContract):
    family = "spectro"
    transports = ("modbus-tcp://127.0.0.1:0", "modbus-rtu+socket://127.0.0.1:0", "pty")
