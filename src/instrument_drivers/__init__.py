"""Drivers that talk to quick-test instruments over serial and Modbus and yield `Reading`s.

from instrument_drivers import create_driver

with create_driver("gold", "/dev/ttyUSB0?baud=9600") as driver:
    for reading in driver.readings(idle_exit=60):
        store(reading)
        driver.ack(reading)   # only now may the instrument forget it
"""

from instrument_drivers.base import Driver
from instrument_drivers.errors import (
    BadUrlError,
    DriverError,
    LinkError,
    UnacknowledgedReadingError,
    UnknownDriverError,
)
from instrument_drivers.reading import Reading
from instrument_drivers.registry import DRIVERS, create_driver, driver_class, families

__all__ = [
    "DRIVERS",
    "BadUrlError",
    "Driver",
    "DriverError",
    "LinkError",
    "Reading",
    "UnacknowledgedReadingError",
    "UnknownDriverError",
    "create_driver",
    "driver_class",
    "families",
]
