"""Transports opened from URLs: serial links through pyserial, Modbus through pymodbus clients.

Serial URLs are what `serial.serial_for_url` takes: a device path (``/dev/ttyUSB0``, a pty such as
``/dev/pts/7``), ``socket://host:port``, ``rfc2217://host:port`` or ``loop://``; our own ``baud``,
``parity``, ``bytesize`` and ``stopbits`` query options are taken off before pyserial sees the URL,
e.g. ``socket://127.0.0.1:7001?baud=9600``.

Modbus URLs:

* ``modbus-tcp://host:port?unit=1``
* ``modbus-rtu://<serial url>?baud=9600&unit=1&parity=N`` — e.g. ``modbus-rtu:///dev/ttyUSB0?baud=9600``
  or RTU frames over a TCP socket: ``modbus-rtu://socket://127.0.0.1:5020?unit=1``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

import serial

from instrument_drivers.errors import BadUrlError, LinkError

_LINE_OPTIONS = ("baud", "parity", "bytesize", "stopbits")
_POLL = 0.02  # longest a single port read blocks, so deadlines are kept to within 20 ms


def split_options(url: str, names: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """Take our query options (`names`) off `url`; other query options stay for pyserial."""
    base, sep, query = url.partition("?")
    if not sep:
        return url, {}
    ours: dict[str, str] = {}
    theirs: list[tuple[str, str]] = []
    for key, value in parse_qsl(query, keep_blank_values=True):
        (ours.__setitem__(key, value) if key in names else theirs.append((key, value)))
    return (f"{base}?{urlencode(theirs)}" if theirs else base), ours


@dataclass(frozen=True, slots=True)
class LineSettings:
    baudrate: int
    parity: str = "N"
    bytesize: int = 8
    stopbits: int = 1

    @classmethod
    def from_options(cls, options: dict[str, str], default_baud: int) -> LineSettings:
        try:
            settings = cls(
                baudrate=int(options.get("baud", default_baud)),
                parity=options.get("parity", "N").upper(),
                bytesize=int(options.get("bytesize", 8)),
                stopbits=int(options.get("stopbits", 1)),
            )
        except ValueError as exc:
            raise BadUrlError(f"bad line option: {exc}") from None
        if settings.baudrate <= 0 or settings.parity not in ("N", "E", "O") or settings.bytesize not in (7, 8):
            raise BadUrlError(f"unsupported line settings {settings}")
        return settings

    def char_time(self) -> float:
        """Seconds one character takes on the wire (start + data + parity + stop bits)."""
        bits = 1 + self.bytesize + (self.parity != "N") + self.stopbits
        return bits / self.baudrate


class SerialLink:
    """A byte link over pyserial with deadline-based reads; every failure surfaces as `LinkError`."""

    def __init__(self, url: str, default_baud: int) -> None:
        port_url, options = split_options(url, _LINE_OPTIONS)
        if not port_url:
            raise BadUrlError("empty serial URL")
        self.url = url
        self.settings = LineSettings.from_options(options, default_baud)
        try:
            self._port: Any = serial.serial_for_url(
                port_url,
                baudrate=self.settings.baudrate,
                parity=self.settings.parity,
                bytesize=self.settings.bytesize,
                stopbits=self.settings.stopbits,
                timeout=_POLL,
                write_timeout=5,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise LinkError(f"cannot open {url}: {exc}") from exc
        try:
            self.flush_input()
        except LinkError:
            self.close()
            raise

    def read(self, deadline: float, size: int = 65536) -> bytes:
        """Bytes that arrive before `deadline` (time.monotonic()); b'' when none did.

        Returns as soon as some bytes are there: the first byte ends the wait, the rest of what is
        waiting is taken with it."""
        port = self._port
        while True:
            try:
                data: bytes = port.read(1)
                waiting = port.in_waiting if data else 0
                if waiting:
                    data += port.read(min(size, waiting))
            except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                raise LinkError(f"{self.url}: {exc}") from exc
            if data or time.monotonic() >= deadline:
                return data

    def read_bulk(self, deadline: float, size: int = 1 << 20) -> bytes:
        """Like `read`, for links that carry large frames (photos): after the first byte, everything that
        arrives within one poll interval (20 ms), up to `size` bytes. `read` takes what `in_waiting` reports,
        which pyserial's socket:// port gives as 0 or 1, so a large frame would come two bytes a call."""
        first = self.read(deadline, 1)
        if not first:
            return first
        try:
            rest: bytes = self._port.read(size - 1)
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            raise LinkError(f"{self.url}: {exc}") from exc
        return first + rest

    def write(self, data: bytes) -> None:
        try:
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            raise LinkError(f"{self.url}: {exc}") from exc

    def flush_input(self) -> None:
        """Throw away whatever is waiting (stale answers of an earlier exchange or connection)."""
        try:
            self._port.reset_input_buffer()
        except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
            raise LinkError(f"{self.url}: {exc}") from exc

    def close(self) -> None:
        """Close the port; closing a dead port must never raise."""
        # pyserial's socket:// port skips closing its socket when shutdown() fails (a connection the
        # peer reset), leaving the descriptor to the garbage collector: close it here as well
        sock = getattr(self._port, "_socket", None)
        with contextlib.suppress(Exception):
            self._port.close()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()


# --- Modbus ---------------------------------------------------------------------------------------------

TCP_PREFIX = "modbus-tcp://"
RTU_PREFIX = "modbus-rtu://"
_MODBUS_OPTIONS = (*_LINE_OPTIONS, "unit")
_SERIAL_SCHEMES = ("socket", "rfc2217", "loop", "spy", "hwgrep", "alt", "cp2110")


@dataclass(frozen=True, slots=True)
class ModbusTarget:
    kind: str  # "tcp" | "rtu"
    unit: int
    host: str = ""
    port: int = 502
    serial_url: str = ""
    line: LineSettings | None = None

    def describe(self) -> str:
        return f"{self.host}:{self.port}" if self.kind == "tcp" else self.serial_url


def parse_modbus_url(url: str, default_baud: int = 9600, default_unit: int = 1) -> ModbusTarget:
    """A `ModbusTarget` from a modbus-tcp:// or modbus-rtu:// URL; a bare serial URL means RTU."""
    if url.startswith(TCP_PREFIX):
        rest, options = split_options(url[len(TCP_PREFIX) :], _MODBUS_OPTIONS)
        host, sep, port = rest.rstrip("/").rpartition(":")
        if not sep or not host or not port.isdigit():
            raise BadUrlError(f"expected modbus-tcp://HOST:PORT, got {url!r}")
        return ModbusTarget("tcp", _unit(options, default_unit), host=host.strip("[]"), port=int(port))
    rest = url[len(RTU_PREFIX) :] if url.startswith(RTU_PREFIX) else url
    scheme = rest.partition("://")[0] if "://" in rest else ""
    if scheme not in _SERIAL_SCHEMES and not rest.startswith("/"):
        raise BadUrlError(f"expected modbus-tcp://…, modbus-rtu://<serial url> or a device path, got {url!r}")
    serial_url, options = split_options(rest, _MODBUS_OPTIONS)
    return ModbusTarget(
        "rtu",
        _unit(options, default_unit),
        serial_url=serial_url,
        line=LineSettings.from_options(options, default_baud),
    )


def _unit(options: dict[str, str], default: int) -> int:
    try:
        unit = int(options.get("unit", default))
    except ValueError:
        raise BadUrlError(f"unit must be a number, not {options.get('unit')!r}") from None
    if not 0 < unit < 248:
        raise BadUrlError(f"unit {unit} is outside 1…247")
    return unit


def modbus_client(target: ModbusTarget, timeout: float) -> Any:
    """A connected-on-demand pymodbus client for `target` (pymodbus' own retries off: the driver retries)."""
    from pymodbus import FramerType
    from pymodbus.client import ModbusSerialClient, ModbusTcpClient

    # pymodbus logs every lost or garbled answer at ERROR; the driver retries those itself and counts
    # them in its stats, so only pymodbus' own failures are left to show
    pymodbus_log = logging.getLogger("pymodbus")
    if pymodbus_log.level == logging.NOTSET:
        pymodbus_log.setLevel(logging.CRITICAL)

    if target.kind == "tcp":
        return ModbusTcpClient(target.host, port=target.port, timeout=timeout, retries=0, reconnect_delay=0)
    if target.serial_url.startswith("socket://"):
        # RTU frames over a TCP stream (a serial device server): pymodbus' TCP client with the RTU framer
        host, _, port = target.serial_url[len("socket://") :].split("?", 1)[0].rstrip("/").rpartition(":")
        if not host or not port.isdigit():
            raise BadUrlError(f"expected socket://HOST:PORT, got {target.serial_url!r}")
        return ModbusTcpClient(
            host.strip("[]"), port=int(port), framer=FramerType.RTU, timeout=timeout, retries=0, reconnect_delay=0
        )
    line = target.line or LineSettings(9600)
    return ModbusSerialClient(
        target.serial_url,
        baudrate=line.baudrate,
        parity=line.parity,
        bytesize=line.bytesize,
        stopbits=line.stopbits,
        timeout=timeout,
        retries=0,
        reconnect_delay=0,
    )
