"""A real `lims serve` in a subprocess on a free port, its peak memory, and a raw HTTP/1.1 client that streams.

The raw client sends a body piece by piece and watches for the server's answer between pieces, so a
test sees exactly how much the server took before it refused (httpx would only read the answer after
sending everything, or fail with a broken pipe).
"""

from __future__ import annotations

import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

MIB = 1024 * 1024


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A served app: its address and process."""

    host: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def base(self) -> str:
        """The http:// address."""
        return f"http://{self.host}:{self.port}"

    def status_kb(self, field: str) -> int:
        """A memory figure of the server process from /proc (VmHWM: peak resident, VmRSS: now), in KiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
        raise AssertionError(f"{field} not in /proc/{self.process.pid}/status")

    def peak_mib(self) -> float:
        """The server's peak resident memory so far (VmHWM), in MiB."""
        return self.status_kb("VmHWM") / 1024


@contextmanager
def served(folder: Path, *extra_env: tuple[str, str]) -> Iterator[Server]:
    """`python -m lims serve` in `folder` (an empty SQLite database is enough for what is tested here)."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIMS_")}
    env.update({"LIMS_SECRET_KEY": "hostile-test-secret-key-0123456789abcdef", **dict(extra_env)})
    process = subprocess.Popen(
        [sys.executable, "-m", "lims", "serve", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Server("127.0.0.1", port, process)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{server.base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("the server did not start")
        yield server
    finally:
        process.terminate()
        process.wait(timeout=20)


@dataclass
class Answer:
    """What a streamed request got: the status line's code (None if the server only closed), and how much was sent."""

    status: int | None
    head: str
    body: str
    sent: int
    closed_early: bool


def _read_answer(sock: socket.socket, timeout: float) -> tuple[int | None, str, str]:
    data = b""
    sock.settimeout(timeout)
    try:
        while True:
            piece = sock.recv(65536)
            if not piece:
                break
            data += piece
            head, sep, body = data.partition(b"\r\n\r\n")
            if sep:
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    None,
                )
                if length is not None and len(body) >= length:
                    break
    except (TimeoutError, ConnectionResetError):
        pass
    head, _sep, body = data.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
    return status, head.decode("latin-1"), body.decode("utf-8", "replace")


def stream(
    server: Server,
    path: str,
    total: int,
    *,
    content_type: str,
    declared: int | None = None,
    prefix: bytes = b"",
    piece: int = 256 * 1024,
    headers: dict[str, str] | None = None,
    answer_timeout: float = 20.0,
) -> Answer:
    """POST `prefix` and `total` filler bytes, chunked (or with `declared` Content-Length), until the server answers.

    With a declared length, the head is sent first and the answer awaited briefly before any body byte."""
    sock = socket.create_connection((server.host, server.port))
    sock.settimeout(answer_timeout)
    lines = [f"POST {path} HTTP/1.1", f"Host: {server.host}:{server.port}", f"Content-Type: {content_type}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines.append(f"Content-Length: {declared}" if declared is not None else "Transfer-Encoding: chunked")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    sent, closed_early = 0, False
    try:
        if declared is not None:
            ready, _, _ = select.select([sock], [], [], 2.0)
            if not ready:  # no answer to the head alone: send the body as a client would
                sock.sendall(prefix)
                sent = len(prefix)
                filler = b"x" * piece
                while sent < declared:
                    if select.select([sock], [], [], 0)[0]:
                        break
                    n = min(piece, declared - sent)
                    sock.sendall(filler[:n])
                    sent += n
        else:
            pending = prefix
            filler = b"x" * piece
            while sent < total + len(prefix):
                if select.select([sock], [], [], 0)[0]:
                    closed_early = True
                    break
                data = pending or filler[: min(piece, total + len(prefix) - sent)]
                pending = b""
                sock.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                sent += len(data)
            else:
                sock.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError, TimeoutError):
        closed_early = True
    status, head, body = _read_answer(sock, answer_timeout)
    sock.close()
    return Answer(status, head, body, sent, closed_early)
