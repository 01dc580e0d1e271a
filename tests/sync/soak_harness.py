"""The vehicle soak: a centre and a node as two real processes with the fault proxy between them.

The centre is `lims serve` (PostgreSQL when given a URL, else SQLite), the node `lims node` on SQLite.
Samples are registered through the node's API, an instrument simulator feeds `lims acquire` on the node's
database, the proxy cuts a share of connections and runs outages, and the node and the centre are
SIGKILLed and restarted at random moments. After a final sync the two databases are compared by their
records' natural keys and both audit trails are verified. Used by `tests/sync/test_soak.py` (small) and
`bench/sync.py` (acceptance size and the figures).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url

from simulators.netfaults import ProxyThread

VEHICLE = "VEH-01"
DISTRICT = "XQ"
PASSWORD = "soak-password-long-enough"
AUDIT_KEY = "soak-centre-audit-key-not-for-production-0123456789"
SECRET_KEY = "soak-secret-key-not-for-production-0123456789abcdef"
SERIAL = "PR-8CH-0001"
FAMILY = "pesticide"
ITEM = "OPC"


# The centre's accounts and vehicle are made in this process: it signs their audit events with the key the
# centre process is given.
os.environ.setdefault("LIMS_AUDIT_KEY", AUDIT_KEY)


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_postgres(url: str, name: str) -> str:
    """A new, empty PostgreSQL database `name` on the server of `url` (made again if it exists); its URL."""
    maintenance = make_url(url).set(database="postgres").render_as_string(hide_password=False)
    admin = sqlalchemy.create_engine(maintenance, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


@dataclass
class Service:
    """One `lims` process (centre or node) that can be SIGKILLed and started again with the same settings."""

    name: str
    argv: list[str]
    cwd: Path
    env: dict[str, str]
    port: int
    process: subprocess.Popen[bytes] | None = None
    kills: int = 0
    starts: int = 0

    @property
    def base(self) -> str:
        """The http:// address of the process itself (not through the proxy)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> None:
        """Start the process (its output goes to `<name>.log` in its folder) and wait for /healthz."""
        log = (self.cwd / f"{self.name}.log").open("ab")
        self.process = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env, stdout=log, stderr=log)
        log.close()
        self.starts += 1
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Wait until the process answers /healthz."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.process.returncode}: {self.tail()}")
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} did not start: {self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no chance to finish a request, commit, or clean up."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)
            self.kills += 1

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)

    def tail(self, size: int = 3000) -> str:
        """The end of the process's log."""
        path = self.cwd / f"{self.name}.log"
        return path.read_text(errors="replace")[-size:] if path.exists() else ""


def lims(*args: str) -> list[str]:
    """The argv of a `lims` command in this interpreter."""
    return [sys.executable, "-m", "lims", *args]


def run_cli(argv: list[str], cwd: Path, env: dict[str, str], stdin: str | None = None, timeout: float = 300) -> str:
    """Run a command to its end; its stdout, or an AssertionError with its stderr."""
    done = subprocess.run(argv, cwd=cwd, env=env, input=stdin, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(argv[2:])} exited {done.returncode}: {done.stderr[-3000:]}")
    return done.stdout


@dataclass
class SoakConfig:
    """The size of a soak and its faults."""

    samples: int = 20
    readings: int = 60
    batches: int = 2
    outages: int = 3
    outage_seconds: float = 2.0
    cut: float = 0.05
    node_kills: int = 1
    centre_kills: int = 1
    seed: int = 1
    pg_url: str | None = None
    pg_name: str = "soak_centre"
    sync_seconds: float = 0.5
    backoff_max_seconds: float = 2.0
    final_timeout: float = 120.0
    gap: tuple[float, float] = (1.0, 3.0)


@dataclass
class SoakReport:
    """What the soak did and what it found."""

    centre_backend: str
    samples: int = 0
    readings: int = 0
    outages: int = 0
    node_kills: int = 0
    centre_kills: int = 0
    proxy: dict[str, Any] = field(default_factory=dict)
    node_keys: dict[str, list[Any]] = field(default_factory=dict)
    centre_keys: dict[str, list[Any]] = field(default_factory=dict)
    reviewed: tuple[str, int] | None = None
    reviewed_status_on_node: str | None = None
    outbox: int = 0
    applied: int = 0
    seconds: float = 0.0
    final_sync_seconds: float = 0.0
    audit: dict[str, str] = field(default_factory=dict)

    def lost(self) -> dict[str, int]:
        """Per kind of record: how many the node holds that the centre does not."""
        return {
            k: len(set(map(tuple, v)) - set(map(tuple, self.centre_keys.get(k, [])))) for k, v in self.node_keys.items()
        }

    def extra(self) -> dict[str, int]:
        """Per kind of record: how many the centre holds that the node does not."""
        return {
            k: len(set(map(tuple, v)) - set(map(tuple, self.node_keys.get(k, [])))) for k, v in self.centre_keys.items()
        }

    def twice(self) -> dict[str, int]:
        """Per kind of record and side: how many keys occur more than once."""
        out = {}
        for side, keys in (("node", self.node_keys), ("centre", self.centre_keys)):
            for kind, rows in keys.items():
                out[f"{side}:{kind}"] = len(rows) - len(set(map(tuple, rows)))
        return out

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly summary (counts, not the keys)."""
        return {
            "centre": self.centre_backend,
            "samples": self.samples,
            "readings": self.readings,
            "outages": self.outages,
            "node_kills": self.node_kills,
            "centre_kills": self.centre_kills,
            "proxy": self.proxy,
            "records": {k: len(v) for k, v in self.node_keys.items()},
            "lost": self.lost(),
            "extra": self.extra(),
            "twice": self.twice(),
            "outbox": self.outbox,
            "applied": self.applied,
            "review_reached_node": self.reviewed_status_on_node,
            "audit": self.audit,
            "final_sync_seconds": round(self.final_sync_seconds, 1),
            "seconds": round(self.seconds, 1),
        }


# Natural keys of the records a node makes, one query per kind, the same on both sides.
KEY_QUERIES = {
    "sample": "SELECT label_id FROM sample",
    "sample_version": "SELECT s.label_id, v.version FROM sample_version v JOIN sample s ON s.id = v.sample_id",
    "result": ("SELECT i.serial, r.instrument_sequence FROM test_result r JOIN instrument i ON i.id = r.instrument_id"),
    "held_reading": "SELECT instrument_serial, sequence FROM held_reading",
}


def record_keys(engine: Engine) -> dict[str, list[Any]]:
    """Every natural key of the node-made records in one database, sorted (duplicates kept)."""
    with engine.connect() as conn:
        return {kind: sorted(tuple(row) for row in conn.execute(text(sql))) for kind, sql in KEY_QUERIES.items()}


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    """One value from one query."""
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


class Soak:
    """The two worlds, the proxy between them and the instrument; `run()` plays the whole soak."""

    def __init__(self, folder: Path, config: SoakConfig, log: Callable[[str], None] = print) -> None:
        self.folder = folder
        self.config = config
        self.log = log
        self.rng = random.Random(f"soak:{config.seed}")
        self.centre_dir = folder / "centre"
        self.node_dir = folder / "node"
        self.centre_dir.mkdir(parents=True, exist_ok=True)
        self.node_dir.mkdir(parents=True, exist_ok=True)
        if config.pg_url:
            self.centre_url = fresh_postgres(config.pg_url, config.pg_name)
        else:
            self.centre_url = f"sqlite:///{self.centre_dir / 'centre.db'}"
        self.node_url = f"sqlite:///{self.node_dir / 'node.db'}"
        base = {k: v for k, v in os.environ.items() if not k.startswith("LIMS_")}
        base.update({"LIMS_SECRET_KEY": SECRET_KEY, "LIMS_LINK_TIMER_SCALE": "0.02", "PYTHONUNBUFFERED": "1"})
        self.centre_env = {
            **base,
            "LIMS_VAR_DIR": str(self.centre_dir),
            "LIMS_DATABASE_URL": self.centre_url,
            "LIMS_AUDIT_KEY": os.environ["LIMS_AUDIT_KEY"],
        }
        self.centre_port = free_port()
        self.centre = Service(
            "centre", lims("serve", "--port", str(self.centre_port)), self.centre_dir, self.centre_env, self.centre_port
        )
        self.proxy = ProxyThread(("127.0.0.1", self.centre_port), cut=config.cut, seed=config.seed)
        self.node_env: dict[str, str] = {}
        self.node: Service | None = None
        self.centre_engine = sqlalchemy.create_engine(self.centre_url)
        self.node_engine = sqlalchemy.create_engine(self.node_url)
        self.labels: list[str] = []
        self.next_sequence = 1
        self.outages_done = 0
        self.reviewed: tuple[str, int] | None = None
        self.node_token: str | None = None
        self.stored = 0

    # -- setting up -----------------------------------------------------------------------------

    @property
    def centre_via_proxy(self) -> str:
        """The centre's address as the node knows it: through the fault proxy."""
        return f"http://127.0.0.1:{self.proxy.port}"

    def setup(self) -> None:
        """Centre: schema, reference data, accounts, the vehicle (in this process: every `lims` start costs
        seconds); proxy; node: enrolled through the proxy, started."""
        from sqlmodel import Session

        from lims.db import make_engine
        from lims.services.access import auth
        from lims.services.core import schema
        from lims.services.core.audit import SYSTEM
        from lims.services.reference import reference_data
        from lims.services.sync import vehicles

        engine = make_engine(self.centre_url)
        schema.upgrade(engine)
        with Session(engine) as session:
            reference_data.load_reference(session, SYSTEM)
            for name in ("tester", "reviewer"):
                auth.add_user(session, SYSTEM, name, name, PASSWORD)
            _vehicle, code = vehicles.add_vehicle(session, SYSTEM, VEHICLE, DISTRICT)
            session.commit()
        engine.dispose()
        self.log("centre database ready")
        self.centre.start()
        self.proxy.start()
        self.log("centre started")
        self.node_env = {
            **{k: v for k, v in self.centre_env.items() if k not in ("LIMS_DATABASE_URL", "LIMS_AUDIT_KEY")},
            "LIMS_VAR_DIR": str(self.node_dir),
            "LIMS_DATABASE_URL": self.node_url,
            "LIMS_NODE_CENTRE": self.centre_via_proxy,
            "LIMS_NODE_VEHICLE": VEHICLE,
            "LIMS_NODE_SYNC_SECONDS": str(self.config.sync_seconds),
            "LIMS_NODE_BACKOFF_MAX_SECONDS": str(self.config.backoff_max_seconds),
            "LIMS_NODE_TIMEOUT_SECONDS": "5",
        }
        enroll = lims("node", "enroll", "--centre", self.centre_via_proxy, "--vehicle", VEHICLE, "--code", code)
        self._retrying(lambda: run_cli(enroll, self.node_dir, self.node_env), "enrolment")
        node_port = free_port()
        argv = lims("node", "--centre", self.centre_via_proxy, "--vehicle", VEHICLE, "--port", str(node_port))
        self.node = Service("node", argv, self.node_dir, self.node_env, node_port)
        self.log("node enrolled")
        self.node.start()
        self.log("node started")

    def _retrying(self, action: Callable[[], Any], what: str, attempts: int = 8) -> Any:
        """`action`, again after a failure (a cut connection is one of the faults), up to `attempts` times."""
        for attempt in range(attempts):
            try:
                return action()
            except (AssertionError, httpx.HTTPError) as exc:
                if attempt == attempts - 1:
                    raise
                self.log(f"  {what} failed ({str(exc).splitlines()[0][:120]}), again")
                time.sleep(0.5)
        raise AssertionError("unreachable")

    # -- the node's work ------------------------------------------------------------------------

    def _node_client(self) -> httpx.Client:
        assert self.node is not None
        return httpx.Client(base_url=self.node.base, timeout=30)

    def node_token_for(self, username: str) -> str:
        """Sign in on the node (the node may be offline: cached credentials)."""
        with self._node_client() as client:
            answer = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
            answer.raise_for_status()
            return str(answer.json()["access_token"])

    def register_samples(self, count: int) -> list[str]:
        """Register `count` samples through the node's API (a dead node is waited for: it is restarted)."""
        labels = []
        for n in range(count):
            body = {
                "point_code": "P05",
                "product_name": f"小白菜 {len(self.labels) + n + 1}",
                "category_code": "VEG_LEAF",
            }

            def post(body: dict[str, Any] = body) -> str:
                if self.node_token is None:
                    self.node_token = self.node_token_for("tester")
                with self._node_client() as client:
                    answer = client.post(
                        "/api/v1/samples", json=body, headers={"Authorization": f"Bearer {self.node_token}"}
                    )
                    answer.raise_for_status()
                    return str(answer.json()["label_id"])

            labels.append(self._retrying(post, "registration", attempts=240))
        self.labels += labels
        return labels

    def feed_instrument(self, labels: list[str], readings: int) -> list[tuple[float, int, float]]:
        """The simulator sends `readings` readings for `labels` (round robin) to `lims acquire` on the node.

        Returns, per stored reading, (time of the instrument's last byte before it was stored, its
        sequence, time it was stored), all on this process's monotonic clock."""
        first = self.next_sequence
        self.next_sequence += readings
        scenario = {
            "serial": SERIAL,
            "first_sequence": first,
            "readings": [
                {"sample": labels[n % len(labels)], "item": ITEM, "result": "positive" if n % 9 == 4 else "negative"}
                for n in range(readings)
            ],
        }
        path = self.node_dir / f"scenario-{first}.json"
        path.write_text(json.dumps(scenario, ensure_ascii=False), encoding="utf-8")
        port = free_port()
        simulator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "simulators",
                FAMILY,
                "--listen",
                f"socket://127.0.0.1:{port}",
                "--scenario",
                str(path),
            ],
            cwd=self.node_dir,
            env=self.node_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert simulator.stdout is not None
        simulator.stdout.readline()  # listening
        taps: list[float] = []
        tap = ProxyThread(
            ("127.0.0.1", port),
            tap=lambda direction, size: taps.append(time.monotonic()) if direction == "down" else None,
        )
        tap.start()
        stored: list[tuple[float, int, float]] = []
        acquire_log = (self.node_dir / "acquire.log").open("ab")
        try:
            acquire = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "lims",
                    "acquire",
                    FAMILY,
                    f"socket://127.0.0.1:{tap.port}",
                    "--json",
                    "--count",
                    str(readings),
                    "--idle-exit",
                    "30",
                ],
                cwd=self.node_dir,
                env=self.node_env,
                stdout=subprocess.PIPE,
                stderr=acquire_log,
                text=True,
            )
            assert acquire.stdout is not None
            for line in acquire.stdout:
                now = time.monotonic()
                row = json.loads(line)
                last_byte = max((t for t in list(taps) if t <= now), default=now)
                stored.append((last_byte, int(row["sequence"]), now))
            acquire.wait(60)
            acquire.stdout.close()
        finally:
            tap.close()
            simulator.terminate()
            simulator.wait(30)
            simulator.stdout.close()
            acquire_log.close()
        return stored

    # -- faults ---------------------------------------------------------------------------------

    def outage(self, seconds: float, during: Callable[[], None] | None = None) -> None:
        """A refused outage of the link for `seconds`, with `during` done at its start."""
        self.proxy.start_outage()
        started = time.monotonic()
        try:
            if during is not None:
                during()
            time.sleep(max(0.0, seconds - (time.monotonic() - started)))
        finally:
            self.proxy.end_outage()
        self.outages_done += 1

    def kill_node(self) -> None:
        """SIGKILL the node and start it again."""
        assert self.node is not None
        self.log("  SIGKILL node")
        self.node.kill()
        self.node.start()

    def kill_centre(self) -> None:
        """SIGKILL the centre and start it again."""
        self.log("  SIGKILL centre")
        self.centre.kill()
        self.centre.start()

    def review_at_centre(self) -> None:
        """A reviewer at the centre approves the oldest result that reached it (the link may be down)."""
        with httpx.Client(base_url=self.centre.base, timeout=30) as client:
            token = client.post("/api/v1/auth/token", data={"username": "reviewer", "password": PASSWORD})
            token.raise_for_status()
            headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
            rows = client.get("/api/v1/results", params={"status": "tested", "limit": 50}, headers=headers)
            rows.raise_for_status()
            for row in rows.json():
                if row.get("judgement") != "negative":
                    continue
                done = client.post(f"/api/v1/results/{row['id']}/approve", json={}, headers=headers)
                if done.status_code == 200:
                    sequence = scalar(
                        self.centre_engine, "SELECT instrument_sequence FROM test_result WHERE id = :i", i=row["id"]
                    )
                    self.reviewed = (SERIAL, int(sequence))
                    self.log(f"  reviewed result {self.reviewed} at the centre during an outage")
                    return
        raise AssertionError("no result awaiting review reached the centre before the outage")

    # -- ending ---------------------------------------------------------------------------------

    def waiting(self) -> int:
        """Outbox records on the node the centre has not acknowledged."""
        return int(scalar(self.node_engine, "SELECT count(*) FROM sync_outbox WHERE acked_at IS NULL") or 0)

    def node_status_of_reviewed(self) -> str | None:
        """The reviewed result's status on the node."""
        if self.reviewed is None:
            return None
        sql = (
            "SELECT r.status FROM test_result r JOIN instrument i ON i.id = r.instrument_id "
            "WHERE i.serial = :s AND r.instrument_sequence = :q"
        )
        value = scalar(self.node_engine, sql, s=self.reviewed[0], q=self.reviewed[1])
        return None if value is None else str(value)

    def final_sync(self, timeout: float) -> float:
        """Wait until the outbox is empty and the centre's review reached the node; returns the seconds it took."""
        started = time.monotonic()
        deadline = started + timeout
        while time.monotonic() < deadline:
            if self.waiting() == 0 and (self.reviewed is None or self.node_status_of_reviewed() == "approved"):
                return time.monotonic() - started
            time.sleep(0.2)
        raise AssertionError(
            f"not in sync after {timeout:.0f} s: {self.waiting()} records waiting, reviewed result on the node: "
            f"{self.node_status_of_reviewed()}\nnode log: {self.node.tail() if self.node else ''}"
        )

    def verify_audit(self) -> dict[str, str]:
        """`lims audit verify` on both sides (run at once); exit codes and last lines."""
        runs = {
            "centre": subprocess.Popen(
                lims("audit", "verify"),
                cwd=self.centre_dir,
                env=self.centre_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ),
            "node": subprocess.Popen(
                lims("audit", "verify"),
                cwd=self.node_dir,
                env=self.node_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            ),
        }
        out = {}
        for side, proc in runs.items():
            text_out, _ = proc.communicate(timeout=300)
            lines = text_out.strip().splitlines()
            out[side] = f"exit {proc.returncode}: {lines[-1] if lines else ''}"
        return out

    def close(self) -> None:
        """Stop every process and the proxy."""
        if self.node is not None:
            self.node.stop()
        self.centre.stop()
        self.proxy.close()
        self.centre_engine.dispose()
        self.node_engine.dispose()

    # -- the soak -------------------------------------------------------------------------------

    def chaos_plan(self) -> list[str]:
        """The faults in the order they come: the outage with the centre's review first, then the other
        outages and the kills shuffled."""
        c = self.config
        rest = ["outage"] * (c.outages - 1) + ["node_kill"] * c.node_kills + ["centre_kill"] * c.centre_kills
        self.rng.shuffle(rest)
        return ["review_outage", *rest]

    def chaos(self) -> None:
        """Play the faults, a random gap before each, while the work goes on in another thread."""
        c = self.config
        for step in self.chaos_plan():
            time.sleep(self.rng.uniform(*c.gap))
            self.log(f"fault: {step}")
            if step == "review_outage":
                self._wait_for_results_at_centre()
                self.outage(c.outage_seconds, during=self.review_at_centre)
            elif step == "outage":
                self.outage(c.outage_seconds)
            elif step == "node_kill":
                self.kill_node()
            elif step == "centre_kill":
                self.kill_centre()

    def work(self) -> None:
        """The vehicle's day: batches of samples registered on the node, each then measured."""
        c = self.config
        for samples, readings in zip(_split(c.samples, c.batches), _split(c.readings, c.batches), strict=True):
            labels = self.register_samples(samples)
            self.log(f"work: {samples} samples registered, {readings} readings to acquire")
            self.stored += len(self.feed_instrument(labels, readings))

    def run(self) -> SoakReport:
        """Play the soak (work and faults at once) and compare the two sides after a final sync."""
        c = self.config
        started = time.monotonic()
        report = SoakReport("postgresql" if c.pg_url else "sqlite")
        self.setup()
        failures: list[BaseException] = []

        def chaos() -> None:
            try:
                self.chaos()
            except BaseException as exc:  # re-raised in the main thread below
                failures.append(exc)

        faults = threading.Thread(target=chaos, name="soak-faults")
        faults.start()
        try:
            self.work()
        finally:
            faults.join()
        if failures:
            raise failures[0]
        report.final_sync_seconds = self.final_sync(c.final_timeout)
        report.samples = len(self.labels)
        report.readings = self.stored
        report.outages = self.outages_done
        report.node_kills = self.node.kills if self.node else 0
        report.centre_kills = self.centre.kills
        report.proxy = self.proxy.summary()
        report.reviewed = self.reviewed
        report.reviewed_status_on_node = self.node_status_of_reviewed()
        report.outbox = int(scalar(self.node_engine, "SELECT count(*) FROM sync_outbox") or 0)
        report.applied = int(scalar(self.centre_engine, "SELECT count(*) FROM sync_applied") or 0)
        self.close()
        report.node_keys = record_keys(self.node_engine)
        report.centre_keys = record_keys(self.centre_engine)
        report.audit = self.verify_audit()
        report.seconds = time.monotonic() - started
        return report

    # -- figures --------------------------------------------------------------------------------

    def restart_node(self, centre: str) -> None:
        """Stop the node and start it again talking to `centre` (e.g. directly, or a closed port: offline)."""
        assert self.node is not None
        self.node.stop()
        self.node.env = {**self.node.env, "LIMS_NODE_CENTRE": centre}
        self.node_env = self.node.env
        self.node.argv = lims("node", "--centre", centre, "--vehicle", VEHICLE, "--port", str(self.node.port))
        self.node.start()

    def accumulate(self, samples: int, readings: int) -> tuple[int, float]:
        """With the node offline (pointed at a closed port), register and measure; returns the records
        waiting and how long the vehicle took to make them."""
        self.restart_node(f"http://127.0.0.1:{free_port()}")
        before = self.waiting()
        started = time.monotonic()
        self.feed_instrument(self.register_samples(samples), readings)
        return self.waiting() - before, time.monotonic() - started

    def drain(self, centre: str, timeout: float = 900.0) -> tuple[int, float]:
        """Start the node towards `centre`; the records waiting when it first answers, and the seconds
        from then until its outbox is empty."""
        self.restart_node(centre)
        started = time.monotonic()
        waiting = self.waiting()
        deadline = started + timeout
        while self.waiting():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.waiting()} records still waiting after {timeout:.0f} s")
            time.sleep(0.05)
        return waiting, time.monotonic() - started

    def latencies(self, samples: int, readings: int) -> tuple[list[float], list[float]]:
        """With the link up: per reading, seconds from the instrument's last byte to the node's commit,
        and to the reading's result in the centre's review queue."""
        first = self.next_sequence
        seen: dict[int, float] = {}
        stop = threading.Event()
        sql = (
            "SELECT r.instrument_sequence FROM test_result r JOIN instrument i ON i.id = r.instrument_id "
            # arrival at the centre: a result comes in awaiting review, unless a repeat of its sample folded it
            "WHERE i.serial = :s AND r.instrument_sequence >= :q"
        )

        def poll() -> None:
            while not stop.is_set():
                with self.centre_engine.connect() as conn:
                    rows = conn.execute(text(sql), {"s": SERIAL, "q": first}).scalars().all()
                now = time.monotonic()
                for sequence in rows:
                    seen.setdefault(int(sequence), now)
                stop.wait(0.02)

        poller = threading.Thread(target=poll, name="review-queue")
        poller.start()
        try:
            stored = self.feed_instrument(self.register_samples(samples), readings)
            deadline = time.monotonic() + 120
            while any(q not in seen for _, q, _ in stored) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            stop.set()
            poller.join()
        missing = [q for _, q, _ in stored if q not in seen]
        assert not missing, f"results {missing[:10]} never reached the centre's review queue"
        to_node = [at - last for last, _, at in stored]
        to_centre = [seen[q] - last for last, q, _ in stored]
        return to_node, to_centre

    def _wait_for_results_at_centre(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if scalar(self.centre_engine, "SELECT count(*) FROM test_result WHERE status = 'tested'"):
                return
            time.sleep(0.2)
        raise AssertionError(
            f"no result reached the centre within {timeout:.0f} s: {self.node.tail() if self.node else ''}"
        )


def _split(total: int, parts: int) -> list[int]:
    """`total` in `parts` nearly equal whole shares."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


@contextmanager
def soak(folder: Path, config: SoakConfig, log: Callable[[str], None] = print) -> Iterator[Soak]:
    """A `Soak` whose processes are stopped however the block ends."""
    world = Soak(folder, config, log)
    try:
        yield world
    finally:
        with contextlib.suppress(Exception):  # closing again after a failure must not hide the failure
            world.close()
