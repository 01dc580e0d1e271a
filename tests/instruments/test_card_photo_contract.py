"""The driver contract for the card-photo family (photo frames over a byte link; the driver only listens)."""

from simulators.faults import KINDS
from tests.instruments.contract import DriverContract


class TestCardPhotoContract(DriverContract):
    family = "card-photo"
    transports = ("socket://127.0.0.1:0", "pty")
    faults = tuple(kind for kind in KINDS if kind != "busy")  # the camera is never asked anything
    identifies_on_connect = False
