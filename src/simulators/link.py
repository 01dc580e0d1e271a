"""Where a simulator listens: a TCP port (one client at a time, like a serial cable) or a pty pair.

Writes are paced at the configured baud rate (10 bits per character for 8N1), so a driver sees the
timing of a real line. A pty stays open for the simulator's whole life; a "disconnect" on it is a
stretch of silence (a pulled cable), because the device path must stay the same for the driver.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import time
import tty
from dataclasses import dataclass


class Disconnected(Exception):
    """The peer hung up."""


@dataclass
class Pacing:
    baud: int | None  # None: no pacing (a network peer)
    bits_per_char: int = 10

    def duration(self, nbytes: int) -> float:
        return 0.0 if not self.baud else nbytes * self.bits_per_char / self.baud


class Line:
    """One connection, as a byte stream."""

    def __init__(self, pacing: Pacing) -> None:
        self.pacing = pacing
        self._busy_until = 0.0

    def read(self, timeout: float) -> bytes:
        raise NotImplementedError

    def _send(self, data: bytes) -> None:
        raise NotImplementedError

    def write(self, data: bytes) -> None:
        """Send `data` and hold the line for as long as the bytes take at the configured baud rate."""
        now = time.monotonic()
        if self._busy_until > now:
            time.sleep(self._busy_until - now)
        self._send(data)
        self._busy_until = max(now, self._busy_until) + self.pacing.duration(len(data))

    def drain(self, seconds: float = 0.0) -> bytes:
        """Whatever is waiting now (and what arrives within `seconds`): stale bytes to throw away."""
        out = b""
        deadline = time.monotonic() + seconds
        while True:
            chunk = self.read(max(0.0, deadline - time.monotonic()))
            out += chunk
            if not chunk:
                return out

    def close(self) -> None:
        pass


class SocketLine(Line):
    def __init__(self, sock: socket.socket, pacing: Pacing) -> None:
        super().__init__(pacing)
        self.sock = sock
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def read(self, timeout: float) -> bytes:
        try:
            ready, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
            if not ready:
                return b""
            data = self.sock.recv(65536)
        except OSError as exc:
            raise Disconnected(str(exc)) from exc
        if not data:
            raise Disconnected("peer closed the connection")
        return data

    def _send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise Disconnected(str(exc)) from exc

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


class PtyLine(Line):
    def __init__(self, master: int, pacing: Pacing) -> None:
        super().__init__(pacing)
        self.master = master

    def read(self, timeout: float) -> bytes:
        ready, _, _ = select.select([self.master], [], [], max(0.0, timeout))
        if not ready:
            return b""
        try:
            return os.read(self.master, 65536)
        except OSError as exc:  # EIO: no process has the slave open
            raise Disconnected(str(exc)) from exc

    def _send(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            try:
                n = os.write(self.master, view)
            except BlockingIOError:
                select.select([], [self.master], [], 0.1)
                continue
            except OSError as exc:  # EIO: the slave side is gone; EBADF: the pty was closed under a long write
                raise Disconnected(str(exc)) from exc
            view = view[n:]


class Endpoint:
    """A place a driver connects to. `url` is what the driver should open."""

    url: str

    def accept(self, timeout: float) -> Line | None:
        raise NotImplementedError

    def hang_up(self, line: Line, silence: float) -> None:
        """Break the connection (socket) or go silent for `silence` seconds (pty)."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


class SocketEndpoint(Endpoint):
    def __init__(self, host: str, port: int, pacing: Pacing, scheme: str = "socket") -> None:
        self.server = socket.create_server((host, port), reuse_port=False)
        self.server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.host, self.port = self.server.getsockname()[:2]
        self.pacing = pacing
        self.url = f"{scheme}://{self.host}:{self.port}"
        self._refuse_until = 0.0

    def accept(self, timeout: float) -> Line | None:
        wait = self._refuse_until - time.monotonic()
        if wait > 0:  # cable pulled / rebooting: a connecting host waits in the backlog meanwhile
            time.sleep(min(wait, timeout))
            return None
        ready, _, _ = select.select([self.server], [], [], max(0.0, timeout))
        if not ready:
            return None
        conn, _ = self.server.accept()
        return SocketLine(conn, self.pacing)

    def hang_up(self, line: Line, silence: float) -> None:
        line.close()
        self._refuse_until = time.monotonic() + silence

    def close(self) -> None:
        self.server.close()


class PtyEndpoint(Endpoint):
    def __init__(self, pacing: Pacing) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR/NL translation before the driver configures the port
        os.set_blocking(self.master, False)
        self.url = os.ttyname(self._slave)
        self.line = PtyLine(self.master, pacing)
        self._silent_until = 0.0

    def accept(self, timeout: float) -> Line | None:
        wait = self._silent_until - time.monotonic()
        if wait > 0:
            self.line.drain(min(wait, timeout))
            return None
        return self.line

    def hang_up(self, line: Line, silence: float) -> None:
        self._silent_until = time.monotonic() + silence
        self.line.drain(0)

    def close(self) -> None:
        for fd in (self.master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)
