"""The driver contract for the colloidal gold card reader (ASTM E1381/E1394; the driver only listens)."""

from tests.instruments.contract import DriverContract


class TestGoldContract(DriverContract):
    family = "gold"
    transports = ("pty", "socket://127.0.0.1:0")
    identifies_on_connect = False
