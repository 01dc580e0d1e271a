"""What hostile uploads and bodies cost a served app, next to honest work measured in the same run.

Serves `lims serve` on a free port (an empty SQLite database in a temporary folder) and measures, per
request, the response time and the growth of the server's peak resident memory (VmHWM):

* every file of ``barcodes.hostile.corpus()`` uploaded to ``POST /api/v1/scan`` and ``POST /trace/photo``,
  against an honest 12 MP photo with a barcode;
* oversized bodies: a declared 400 MB JSON, a streamed 256 MB JSON, a streamed 1 GB multipart upload;
* ``/healthz`` latency while a 40 MP photo decodes, against ``/healthz`` when idle;
* several 40 MP photos at once: how many are decoded, how many are told to come back, peak memory.

    .venv/bin/python bench/hostile.py [--concurrent 6]
"""

from __future__ import annotations

import argparse
import select
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.security.hostile_server import MIB, Server, _read_answer, served, stream  # noqa: E402

from barcodes import hostile  # noqa: E402
from barcodes.synth import render_code  # noqa: E402


def photo(width: int, height: int, with_code: bool, seed: int = 0) -> bytes:
    """A JPEG of smooth noise, with an EAN-13 in one corner when asked (no code: every retry pass runs)."""
    rng = np.random.default_rng(seed)
    img = cv2.resize(rng.integers(0, 255, (height // 10, width // 10), dtype=np.uint8), (width, height))
    if with_code:
        code = np.pad(render_code("EAN-13", "6920152400012"), 30, constant_values=255)
        scale = max(1, min(4, (width - 100) // code.shape[1]))
        code = cv2.resize(code, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        img[50 : 50 + code.shape[0], 50 : 50 + code.shape[1]] = code
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 85])
    assert ok
    return buf.tobytes()


def measured(server: Server, call: Callable[[], object]) -> tuple[object, float, float]:
    """The call's result, its wall time (ms) and how much the server's peak memory grew (MiB)."""
    before = server.peak_mib()
    start = time.perf_counter()
    result = call()
    return result, (time.perf_counter() - start) * 1000, server.peak_mib() - before


def upload(client: httpx.Client, path: str, field: str, data: bytes) -> int:
    """POST one file; the status code (0 when the connection broke instead)."""
    try:
        return client.post(path, files={field: ("upload.img", data, "application/octet-stream")}).status_code
    except httpx.TransportError:
        return 0


def healthz_latencies(client: httpx.Client, until: Callable[[], bool], at_least: int = 0) -> list[float]:
    """Sequential /healthz round trips (ms) until `until()` (and at least `at_least` of them)."""
    out: list[float] = []
    while not until() or len(out) < at_least:
        start = time.perf_counter()
        client.get("/healthz")
        out.append((time.perf_counter() - start) * 1000)
    return out


def p(values: list[float], q: float) -> float:
    """The q-quantile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_uploads(server: Server, client: httpx.Client) -> None:
    """Each hostile file on both endpoints, next to an honest 12 MP photo."""
    honest = photo(4000, 3000, with_code=True)
    print(f"\n{'upload':34s} {'bytes':>9s} {'API':>5s} {'ms':>7s} {'MiB':>5s}   {'page':>5s} {'ms':>7s} {'MiB':>5s}")
    rows = [("honest 12 MP photo with a code", honest)] + [(n, make()) for n, (make, _s) in hostile.corpus().items()]
    honest_ms = 1.0
    for name, data in rows:
        api, api_ms, api_mib = measured(server, lambda d=data: upload(client, "/api/v1/scan", "image", d))
        page, page_ms, page_mib = measured(server, lambda d=data: upload(client, "/trace/photo", "photo", d))
        if name.startswith("honest"):
            honest_ms = max(api_ms, 1e-3)
        ratio = "" if name.startswith("honest") else f"   ({api_ms / honest_ms:.3f}× the honest photo's time)"
        api_text = f"{api:5d} {api_ms:7.1f} {api_mib:5.1f}"
        print(f"{name:34s} {len(data):9d} {api_text}   {page:5d} {page_ms:7.1f} {page_mib:5.1f}{ratio}")


def bench_bodies(server: Server) -> None:
    """Oversized bodies: how long until refused, how much was taken, peak growth."""
    head = b'--b\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'
    cases = [
        (
            "declared 400 MB JSON",
            lambda: stream(server, "/api/v1/samples", 0, content_type="application/json", declared=400 * MIB),
        ),
        (
            "streamed 256 MB JSON",
            lambda: stream(server, "/api/v1/samples", 256 * MIB, content_type="application/json", prefix=b'{"x": "'),
        ),
        (
            "streamed 1 GB multipart to /api/v1/scan",
            lambda: stream(
                server, "/api/v1/scan", 1024 * MIB, content_type="multipart/form-data; boundary=b", prefix=head
            ),
        ),
        (
            "streamed 1 GB multipart to /trace/photo",
            lambda: stream(
                server, "/trace/photo", 1024 * MIB, content_type="multipart/form-data; boundary=b", prefix=head
            ),
        ),
        (
            "declared 1 GB form to /login",
            lambda: stream(server, "/login", 0, content_type="application/x-www-form-urlencoded", declared=1024 * MIB),
        ),
    ]
    print(f"\n{'body':42s} {'status':>6s} {'taken MiB':>9s} {'ms':>8s} {'peak +MiB':>9s}")
    for name, call in cases:
        answer, ms, mib = measured(server, call)
        assert hasattr(answer, "sent")
        status = getattr(answer, "status", None)
        print(f"{name:42s} {status!s:>6s} {answer.sent / MIB:9.1f} {ms:8.1f} {mib:9.1f}")


def bench_healthz(server: Server, client: httpx.Client) -> None:
    """/healthz round trips when idle, and while a 40 MP photo decodes on each endpoint."""
    big = photo(7300, 5500, with_code=False, seed=9)
    idle = healthz_latencies(client, lambda: True, at_least=200)
    print(f"\n/healthz idle: p50 {p(idle, 0.5):.2f} ms, p99 {p(idle, 0.99):.2f} ms, max {max(idle):.2f} ms")
    for path, field in (("/trace/photo", "photo"), ("/api/v1/scan", "image")):
        boundary = "b0undary"
        body = (
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="big.jpg"\r\n'
                "Content-Type: image/jpeg\r\n\r\n"
            ).encode()
            + big
            + f"\r\n--{boundary}--\r\n".encode()
        )
        sock = socket.create_connection((server.host, server.port))
        head = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        before = server.peak_mib()
        start = time.perf_counter()
        sock.sendall(head.encode() + body)
        during = healthz_latencies(client, lambda s=sock: bool(select.select([s], [], [], 0)[0]))
        status, _head, _body = _read_answer(sock, 120)
        took = time.perf_counter() - start
        sock.close()
        print(
            f"/healthz during a 40 MP decode on {path} ({status}, {took:.1f} s, peak +{server.peak_mib() - before:.0f}"
            f" MiB): {len(during)} answers, p50 {p(during, 0.5):.2f} ms, p99 {p(during, 0.99):.2f} ms,"
            f" max {max(during):.1f} ms = {max(during) / max(idle):.1f}× the idle max"
        )


def bench_concurrent(server: Server, n: int) -> None:
    """`n` 40 MP photos at once on the API: decoded, told to come back (503), peak memory."""
    big = photo(7300, 5500, with_code=False, seed=3)
    statuses: list[int] = []
    lock = threading.Lock()

    def one() -> None:
        with httpx.Client(base_url=server.base, timeout=300) as c:
            status = upload(c, "/api/v1/scan", "image", big)
        with lock:
            statuses.append(status)

    before = server.peak_mib()
    start = time.perf_counter()
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    counts = {s: statuses.count(s) for s in sorted(set(statuses))}
    print(
        f"\n{n} concurrent 40 MP uploads to /api/v1/scan: statuses {counts} in {time.perf_counter() - start:.1f} s,"
        f" server peak +{server.peak_mib() - before:.0f} MiB (now {server.peak_mib():.0f} MiB)"
    )


def main() -> None:
    """Run every measurement against one served app."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--concurrent", type=int, default=6, help="40 MP photos sent at once")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, served(Path(folder)) as server:
        with httpx.Client(base_url=server.base, timeout=300) as client:
            client.get("/")
            upload(client, "/api/v1/scan", "image", photo(800, 600, with_code=True))  # decoders warmed up
            print(f"server started; peak resident memory {server.peak_mib():.0f} MiB after warm-up")
            bench_uploads(server, client)
            bench_bodies(server)
            bench_healthz(server, client)
        bench_concurrent(server, args.concurrent)
        print(f"\nserver peak resident memory at the end: {server.peak_mib():.0f} MiB")


if __name__ == "__main__":
    main()
