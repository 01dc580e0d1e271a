"""A vehicle's secrets: the one-time enrolment code, the credential it is exchanged for, and its audit key.

Codes and credentials are random and kept at the centre only as SHA-256 digests (they carry enough
entropy that a slow hash adds nothing). The vehicle's audit key is derived from the centre's own audit key
and a nonce stored with the vehicle, so the database holds nothing an attacker could sign with; the node
keeps the key as its audit key file and MACs every event it writes with it, so the centre can check them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from lims.services.core.audit_keys import event_key

CODE_BYTES = 10  # 80 bits: 16 characters of base32, typed once at the vehicle's laptop
CREDENTIAL_BYTES = 32


def new_code() -> str:
    """A fresh enrolment code, as people type it: four groups of four base32 characters."""
    text = base64.b32encode(secrets.token_bytes(CODE_BYTES)).decode()
    return "-".join(text[i : i + 4] for i in range(0, 16, 4))


def normalise_code(code: str) -> str:
    """The code as stored: upper case, without spaces or dashes."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def digest(secret: str) -> str:
    """The SHA-256 (hex) under which a code or credential is kept."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_credential() -> str:
    """A fresh vehicle credential (sent as a bearer token)."""
    return secrets.token_urlsafe(CREDENTIAL_BYTES)


def new_nonce() -> str:
    """A fresh nonce from which a vehicle's audit key is derived."""
    return secrets.token_hex(16)


def vehicle_key(vehicle: str, nonce: str, centre_key: bytes | None = None) -> str:
    """The audit key of `vehicle` (hex text; the node keeps it as its audit key file)."""
    key = centre_key if centre_key is not None else event_key()
    message = f"lims vehicle audit key\x00{vehicle}\x00{nonce}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
