"""Signed checkpoints of the audit chains' heads, kept outside the database: Certificate Transparency's signed
tree heads (RFC 6962 §3.5), in the small.

A checkpoint is one line of JSON appended to `checkpoints.jsonl` in the checkpoint folder
(`LIMS_AUDIT_CHECKPOINT_DIR`, default `var_dir/audit-checkpoints`)::

    {"type": "lims-audit-checkpoint", "version": 1, "at": "2026-12-01T08:00:00.000001+00:00",
     "key_id": "<16 hex digits>", "chains": [{"chain": "district:1", "count": 120, "head": "<sha256>",
     "mac": "<hmac>"}, ...], "signature": "<base64>"}

`signature` is the Ed25519 signature of the canonical JSON (UTF-8, keys sorted, no whitespace) of every
other field. A new checkpoint is written only if it is consistent with the newest one before it: every
chain is still there, no shorter, its event at the earlier count is still the one whose hash was signed,
and every event after it verifies. `lims audit verify` then checks the chains against every checkpoint,
so events cut off the tail are reported as a missing range, and anyone holding the public key
(`lims audit public-key`) can check the checkpoints, and the database's public hashes, without a secret.
"""

from __future__ import annotations

import base64
import fcntl
import itertools
import json
import logging
import os
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from lims.i18n import _N
from lims.services.core import audit, clock
from lims.services.core.audit import GENESIS, Break, Report, SignedHead
from lims.services.core.audit_keys import AuditKeyError, key_id, signing_key
from lims.services.core.errors import Conflict, ServiceError
from lims.settings import get_settings

CHECKPOINT_TYPE = "lims-audit-checkpoint"
FILE_NAME = "checkpoints.jsonl"
MAX_LINE = 1_000_000
log = logging.getLogger("lims.audit")


class Inconsistent(Conflict):
    """The chains no longer extend the newest checkpoint: events were removed or replaced."""

    def __init__(self, breaks: list[Break]) -> None:
        super().__init__(
            "audit.inconsistent",
            _N("the audit trail is not consistent with the last checkpoint: {breaks}"),
            breaks="; ".join(map(str, breaks)),
        )
        self.breaks = breaks


class CheckpointFileError(ServiceError):
    """The checkpoint file cannot be read or written (a configuration error)."""

    status_code = 500


@dataclass(frozen=True)
class Head:
    """One chain's head in a checkpoint."""

    chain: str
    count: int
    head: str
    mac: str


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement of every chain's head at one time; `line` is its line in the file."""

    at: datetime
    key_id: str
    heads: tuple[Head, ...]
    line: int

    def label(self) -> str:
        """How reports name it."""
        return f"checkpoint {self.line} of {self.at.isoformat(timespec='seconds')}"

    def as_json(self) -> dict[str, Any]:
        """The checkpoint as its body (without signature)."""
        return _body(self.at, self.key_id, self.heads)


def checkpoint_file() -> Path:
    """The configured append-only checkpoint file."""
    return get_settings().resolved_audit_checkpoint_dir() / FILE_NAME


def _body(at: datetime, signer: str, heads: Sequence[Head]) -> dict[str, Any]:
    return {
        "type": CHECKPOINT_TYPE,
        "version": 1,
        "at": at.isoformat(),
        "key_id": signer,
        "chains": [{"chain": h.chain, "count": h.count, "head": h.head, "mac": h.mac} for h in heads],
    }


def _signed_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def parse_line(text: str, number: int, public_key: Ed25519PublicKey) -> Checkpoint:
    """One line of the checkpoint file, its signature checked with `public_key`; ValueError says what is wrong."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        raise ValueError("not JSON") from None
    if not isinstance(data, dict) or data.get("type") != CHECKPOINT_TYPE or data.get("version") != 1:
        raise ValueError("not a version 1 audit checkpoint")
    signature = data.pop("signature", None)
    if data.get("key_id") != key_id(public_key):
        raise ValueError(f"signed by another key ({data.get('key_id')!r})")
    try:
        public_key.verify(base64.b64decode(str(signature), validate=True), _signed_bytes(data))
    except (InvalidSignature, ValueError):
        raise ValueError("signature does not verify (altered or forged)") from None
    try:
        heads = tuple(Head(str(h["chain"]), int(h["count"]), str(h["head"]), str(h["mac"])) for h in data["chains"])
        at = datetime.fromisoformat(str(data["at"]))
    except (KeyError, TypeError, ValueError):
        raise ValueError("signed, but its fields are malformed") from None
    return Checkpoint(at, str(data["key_id"]), heads, number)


def read(path: Path, public_key: Ed25519PublicKey) -> tuple[list[Checkpoint], list[str]]:
    """The checkpoints in `path` whose signatures verify, and what is wrong with the other lines."""
    if not path.exists():
        return [], []
    try:
        with path.open("rb") as handle:
            parsed = _Parsed(handle, public_key)
    except OSError as exc:
        raise CheckpointFileError(
            "audit_checkpoints.cannot_read_checkpoints",
            _N("cannot read the checkpoints in {path}: {strerror}"),
            path=path,
            strerror=exc.strerror,
        ) from None
    return parsed.found, parsed.problems


class _Parsed:
    """The lines of a checkpoint file, read one bounded line at a time."""

    def __init__(self, handle: IO[bytes], public_key: Ed25519PublicKey) -> None:
        self.found: list[Checkpoint] = []
        self.problems: list[str] = []
        self.lines = 0
        self.ends_cleanly = True
        while raw := handle.readline(MAX_LINE + 1):
            self.lines += 1
            self.ends_cleanly = raw.endswith(b"\n")
            if len(raw) > MAX_LINE:  # skip the rest of an overlong line
                while raw and not raw.endswith(b"\n"):
                    raw = handle.readline(MAX_LINE + 1)
                self.ends_cleanly = bool(raw)
                self.problems.append(f"checkpoint line {self.lines}: line too long")
                continue
            text = raw.decode("utf-8", errors="replace").strip()
            if not text:
                continue
            try:
                self.found.append(parse_line(text, self.lines, public_key))
            except ValueError as exc:
                self.problems.append(f"checkpoint line {self.lines}: {exc}")


def consistency(checkpoints: Sequence[Checkpoint]) -> list[str]:
    """Whether each checkpoint extends the one before it: no chain vanishes or shrinks, and a chain that
    did not grow still has the same head."""
    problems: list[str] = []
    for earlier, later in itertools.pairwise(checkpoints):
        now = {h.chain: h for h in later.heads}
        for before in earlier.heads:
            after = now.get(before.chain)
            if after is None:
                problems.append(f"{later.label()} lacks chain {before.chain} that {earlier.label()} signed")
            elif after.count < before.count:
                problems.append(
                    f"{later.label()} signs {after.count} events of chain {before.chain}, "
                    f"{earlier.label()} signed {before.count}"
                )
            elif after.count == before.count and after.head != before.head:
                problems.append(f"{later.label()} and {earlier.label()} sign different heads for {before.chain}")
    return problems


def signed_heads(checkpoints: Sequence[Checkpoint]) -> list[SignedHead]:
    """Every chain head the checkpoints vouch for, for `audit.check`."""
    return [SignedHead(h.chain, h.count, h.head, h.mac, c.label()) for c in checkpoints for h in c.heads]


@contextmanager
def _locked_file(path: Path) -> Iterator[IO[bytes]]:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise CheckpointFileError(
            "audit_checkpoints.cannot_write_checkpoints",
            _N("cannot write checkpoints to {path}: {strerror}"),
            path=path,
            strerror=exc.strerror,
        ) from None
    with os.fdopen(fd, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            handle.seek(0)
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def take(session: Session) -> Checkpoint:
    """Sign and append a checkpoint of every chain's head, after checking that the chains extend the newest
    checkpoint before it (the first checkpoint checks every event); raises `Inconsistent` otherwise."""
    private = signing_key()
    public = private.public_key()
    path = checkpoint_file()
    with _locked_file(path) as handle:
        parsed = _Parsed(handle, public)
        earlier = parsed.found
        heads = audit.chain_heads(session)
        previous = {h.chain: h for h in earlier[-1].heads} if earlier else {}
        breaks: list[Break] = []
        for chain, old in previous.items():
            count = heads.get(chain, (0, GENESIS, ""))[0]
            if count < old.count:
                breaks.append(Break(None, "", None, audit.missing(count + 1, old.count), chain))
            else:
                breaks += audit.check_extension(session, chain, old.count, old.head, count)
        for chain, (count, _head, _mac) in heads.items():
            if chain not in previous:
                breaks += audit.check_extension(session, chain, 0, GENESIS, count)
        if breaks:
            raise Inconsistent(breaks)
        at = clock.now()
        chosen = tuple(Head(chain, *heads[chain]) for chain in sorted(heads))
        body = _body(at, key_id(public), chosen)
        signature = base64.b64encode(private.sign(_signed_bytes(body))).decode()
        line = json.dumps({**body, "signature": signature}, ensure_ascii=False) + "\n"
        number = parsed.lines + 1
        # A line cut short by a crash stays a line of its own (reported by `read`), never glued to this one.
        handle.write((b"" if parsed.ends_cleanly else b"\n") + line.encode())
        handle.flush()
        os.fsync(handle.fileno())
    return Checkpoint(at, key_id(public), chosen, number)


def verify(
    session: Session,
    audited_models: Sequence[type[SQLModel]],
    *,
    path: Path | None = None,
    public_key: Ed25519PublicKey | None = None,
) -> Report:
    """`audit.check` against every checkpoint in the file, with the checkpoints' own problems first."""
    path = path or checkpoint_file()
    problems: list[str] = []
    checkpoints: list[Checkpoint] = []
    if path.exists():
        if public_key is None:
            try:
                public_key = signing_key(create=False).public_key()
            except AuditKeyError as exc:
                raise AuditKeyError(
                    "audit_checkpoints.cannot_check_checkpoints",
                    _N("cannot check the checkpoints in {path}: {reason}"),
                    path=path,
                    reason=exc.reason,
                ) from None
        checkpoints, problems = read(path, public_key)
        problems += consistency(checkpoints)
    report = audit.check(session, audited_models, signed=signed_heads(checkpoints))
    report.breaks[:0] = [Break(None, "", None, problem) for problem in problems]
    if not checkpoints:
        report.notes.append(
            "no checkpoints yet, so a cut-off tail would go unnoticed: run `lims audit checkpoint` "
            "or keep `lims serve` running"
        )
    return report


class Scheduler:
    """Takes a checkpoint at start and then every `seconds` in a background thread (never blocks requests)."""

    def __init__(self, engine: Engine, seconds: float) -> None:
        self.engine = engine
        self.seconds = seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-checkpoints", daemon=True)

    def start(self) -> Scheduler:
        """Start the thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread (waits for a checkpoint under way)."""
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with Session(self.engine) as session:
                    taken = take(session)
                log.info("audit checkpoint %s signed", taken.label())
            except Inconsistent as exc:
                log.error("audit checkpoint refused: %s", exc.reason)
            except Exception:
                log.exception("audit checkpoint failed")
            self._stop.wait(self.seconds)


def schedule(engine: Engine) -> Scheduler | None:
    """Start taking checkpoints as configured (`LIMS_AUDIT_CHECKPOINT_SECONDS`; 0 turns them off)."""
    seconds = get_settings().audit_checkpoint_seconds
    return Scheduler(engine, seconds).start() if seconds > 0 else None
