"""The audit trail's secrets, kept outside the database: the HMAC key that authenticates events, the Ed25519
key that signs checkpoints, and keyed fingerprints that stand in for secret fields in snapshots.

The HMAC key comes from `LIMS_AUDIT_KEY` or from a key file (default `var_dir/audit_key`, setting
`LIMS_AUDIT_KEY_FILE`) created on first use with mode 0600. The signing key is a PEM file (default
`var_dir/audit_signing_key.pem`, setting `LIMS_AUDIT_SIGNING_KEY_FILE`) created the same way. Whoever can
write to the database but not read these files can neither forge an event nor sign a checkpoint.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from lims.i18n import _N
from lims.secret_files import SecretFileError, read_or_create, read_private
from lims.services.core.errors import ServiceError
from lims.settings import get_settings

MIN_KEY_BYTES = 32
FINGERPRINT_PREFIX = "hmac-sha256:"


class AuditKeyError(ServiceError):
    """The audit key or signing key is missing, too short or unreadable (a configuration error)."""

    status_code = 500


_file_keys: dict[Path, bytes] = {}
_signing_keys: dict[Path, Ed25519PrivateKey] = {}


def _checked(key: bytes, source: str) -> bytes:
    if len(key) < MIN_KEY_BYTES:
        raise AuditKeyError(
            "audit_keys.holds_bytes_audit_key",
            _N("{source} holds {length} bytes; an audit key needs at least {minimum}"),
            source=source,
            length=len(key),
            minimum=MIN_KEY_BYTES,
        )
    return key


def event_key(*, create: bool = True) -> bytes:
    """The HMAC key of audit events: `LIMS_AUDIT_KEY`, else the key file (created first when `create`)."""
    settings = get_settings()
    configured = settings.audit_key.get_secret_value()
    if configured:
        return _checked(configured.encode(), "LIMS_AUDIT_KEY")
    path = settings.resolved_audit_key_file().absolute()
    cached = _file_keys.get(path)
    if cached is not None:
        return cached
    try:
        raw = read_or_create(path, lambda: secrets.token_urlsafe(48).encode() + b"\n") if create else read_private(path)
    except FileNotFoundError:
        raise AuditKeyError(
            "audit_keys.no_audit_key_set",
            _N("no audit key: set LIMS_AUDIT_KEY or put the key the events were written with into {path}"),
            path=path,
        ) from None
    except SecretFileError as exc:
        raise AuditKeyError("audit_keys.audit_key_file", _N("audit key file: {exc}"), exc=exc) from None
    key = _checked(raw.strip(), f"the audit key file {path}")
    _file_keys[path] = key
    return key


def event_mac(key: bytes, event_hash: str) -> str:
    """The MAC of an event, over its hash (which covers its content, chain, position and predecessor)."""
    return hmac.new(key, b"lims audit event\x00" + event_hash.encode(), hashlib.sha256).hexdigest()


def head_mac(key: bytes, chain: str, count: int, head: str) -> str:
    """The MAC of a chain head record (chain name, number of events, hash of the last one)."""
    message = f"lims audit head\x00{chain}\x00{count}\x00{head}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def fingerprint(key: bytes, table: str, column: str, value: Any) -> str | None:
    """What a snapshot holds instead of a secret field: a keyed digest that changes when the value does,
    from which the value cannot be recovered or checked against guesses without the key."""
    if value is None:
        return None
    field_key = hmac.new(key, b"lims audit secret field", hashlib.sha256).digest()
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    digest = hmac.new(field_key, f"{table}.{column}\x00{text}".encode(), hashlib.sha256).hexdigest()
    return FINGERPRINT_PREFIX + digest


def _new_signing_key() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def signing_key(*, create: bool = True) -> Ed25519PrivateKey:
    """The Ed25519 key that signs checkpoints (its file is created first when missing and `create`)."""
    path = get_settings().resolved_audit_signing_key_file().absolute()
    cached = _signing_keys.get(path)
    if cached is not None:
        return cached
    try:
        pem = read_or_create(path, _new_signing_key) if create else read_private(path)
    except FileNotFoundError:
        raise AuditKeyError(
            "audit_keys.no_checkpoint_signing_key", _N("no checkpoint signing key at {path}"), path=path
        ) from None
    except SecretFileError as exc:
        raise AuditKeyError("audit_keys.checkpoint_signing_key", _N("checkpoint signing key: {exc}"), exc=exc) from None
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise AuditKeyError(
            "audit_keys.unencrypted_pem_private_key", _N("{path} is not an unencrypted PEM private key"), path=path
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditKeyError("audit_keys.ed25519_key", _N("{path} is not an Ed25519 key"), path=path)
    _signing_keys[path] = key
    return key


def public_key_pem(key: Ed25519PublicKey) -> str:
    """The public key as PEM (SubjectPublicKeyInfo), for whoever checks checkpoints."""
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_key(pem: bytes, source: str) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM text."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise AuditKeyError(
            "audit_keys.pem_public_key", _N("{source} is not a PEM public key"), source=source
        ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise AuditKeyError("audit_keys.ed25519_public_key", _N("{source} is not an Ed25519 public key"), source=source)
    return key


def key_id(key: Ed25519PublicKey) -> str:
    """A short name of a public key: the first 16 hex digits of the SHA-256 of its raw bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]
