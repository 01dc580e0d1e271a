"""Settings from `LIMS_…` environment variables (pydantic-settings)."""

from __future__ import annotations

import logging
import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lims.secret_files import SecretFileError, read_or_create

logger = logging.getLogger(__name__)

# A signing key must carry at least 256 bits (HMAC-SHA-256 keys shorter than the hash weaken it, RFC 2104 §3).
MIN_SECRET_KEY_BYTES = 32
SECRET_KEY_FILE = "secret_key"
DEFAULT_VAR_DIR = Path("var")


class SettingsError(Exception):
    """The configuration cannot be used; the message says which setting and why."""


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as `LIMS_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="LIMS_", extra="ignore")

    # The data folder: the SQLite database and the generated secret key. Relative paths are taken from the
    # working directory once, when the settings are read; an empty value means the default `./var`.
    var_dir: Path = Field(default=DEFAULT_VAR_DIR, validate_default=True)
    database_url: str = ""
    secret_key: str = ""
    token_minutes: int = Field(default=12 * 60, ge=1, le=30 * 24 * 60)
    public_base_url: str = "http://127.0.0.1:8000"
    link_timer_scale: float = 1.0
    # Passwords: minimum length (NIST SP 800-63B: no composition rules, a length floor, a blocklist).
    password_min_length: int = Field(default=12, ge=8, le=64)
    # On a vehicle node: for how many days after its last pull from the centre (or its enrolment) the testers'
    # password verifiers it copied may still sign them in (the link may stay down that long, no longer).
    node_credential_days: int = Field(default=7, ge=1, le=30)
    # Sign-in throttling (limits' notation, `;`-separated tiers act as a stepped backoff), and its store:
    # `memory://` keeps counters in the process; a shared store (e.g. `redis://…`) makes workers agree.
    signin_account_limits: str = "5/minute;10/15 minutes;20/hour;50/day"
    signin_address_limits: str = "20/minute;100/hour;500/day"
    throttle_storage_url: str = "memory://"
    # What several workers share (`lims.services.core.shared`): with a Redis URL, the throttles' counters (unless
    # `throttle_storage_url` names another store) and the live pages' wake-ups; keys and channels carry the prefix.
    redis_url: str = ""
    redis_prefix: str = Field(default="lims", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    # Addresses of reverse proxies whose X-Forwarded-For is believed (comma-separated IPs or CIDRs).
    trusted_proxies: str = ""
    # At most this many password hashes at once per process (argon2 takes 64 MiB each); a sign-in that
    # cannot get a slot within `hash_wait_seconds` is answered 503 with Retry-After.
    hash_concurrency: int = Field(default=2, ge=1, le=64)
    hash_wait_seconds: float = Field(default=2.0, ge=0, le=30)
    # The cost of a new password hash: argon2id with RFC 9106's second recommended setting (64 MiB, 3 passes,
    # 4 lanes) unless set lower here; a stored hash is always checked with the cost it was made with.
    hash_memory_kib: int = Field(default=65536, ge=1024, le=1048576)
    hash_time_cost: int = Field(default=3, ge=1, le=10)
    hash_parallelism: int = Field(default=4, ge=1, le=16)

    # The audit trail's secrets and checkpoints live outside the database (see `lims.services.core.audit_keys`).
    audit_key: SecretStr = SecretStr("")
    audit_key_file: Path | None = None
    audit_signing_key_file: Path | None = None
    audit_checkpoint_dir: Path | None = None
    audit_checkpoint_seconds: float = Field(default=3600.0, ge=0, description="0: no checkpoints while serving")
    audit_seal_broken_chain: bool = False

    # Webhooks (`lims.services.sharing`): receivers on private or local addresses are refused unless allowed;
    # `lims serve` runs the dispatcher every `webhook_deliver_seconds` (0: run `lims webhooks deliver` instead).
    webhook_allow_private_targets: bool = False
    webhook_deliver_seconds: float = Field(default=10.0, ge=0, le=3600)
    webhook_timeout_seconds: float = Field(default=15.0, ge=1, le=30)

    # A vehicle node (`lims.services.sync`): when `node_centre` (the centre's base URL) is set, this LIMS runs as
    # the node of vehicle `node_vehicle` on its own database and syncs with the centre.
    node_centre: str = Field(default="", max_length=2048)
    node_vehicle: str = Field(default="", max_length=16)
    # The sync loop: records per push, pull page size, the seconds between rounds and the backoff ceiling.
    node_batch_size: int = Field(default=200, ge=1, le=1000)
    node_sync_seconds: float = Field(default=2.0, ge=0.05, le=3600)
    node_backoff_max_seconds: float = Field(default=60.0, ge=0.1, le=3600)
    node_timeout_seconds: float = Field(default=15.0, ge=1, le=120)
    # How long a one-time enrolment code made at the centre stays valid.
    vehicle_enrol_minutes: int = Field(default=24 * 60, ge=1, le=30 * 24 * 60)

    _secret: str | None = PrivateAttr(default=None)

    @field_validator("var_dir", mode="before")
    @classmethod
    def _var_dir(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            value = DEFAULT_VAR_DIR
        return Path(str(value)).expanduser().absolute()

    @field_validator("secret_key")
    @classmethod
    def _secret_key(cls, value: str) -> str:
        if value and len(value.encode()) < MIN_SECRET_KEY_BYTES:
            raise ValueError(
                f"LIMS_SECRET_KEY has {len(value.encode())} bytes; it needs at least {MIN_SECRET_KEY_BYTES} "
                "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))')"
            )
        return value

    @property
    def is_node(self) -> bool:
        """Whether this LIMS runs as a vehicle node (a centre URL is set)."""
        return bool(self.node_centre)

    def resolved_node_credential_file(self) -> Path:
        """Where a node keeps the credential the centre issued to its vehicle (0600)."""
        return self.var_dir / "node_credential"

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under `var_dir`."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.var_dir / 'lims.db'}"

    def resolved_throttle_storage_url(self) -> str:
        """Where the throttles count: `LIMS_THROTTLE_STORAGE_URL` when set, else Redis when configured, else memory."""
        if self.throttle_storage_url != "memory://" or not self.redis_url:
            return self.throttle_storage_url
        return self.redis_url

    def resolved_audit_key_file(self) -> Path:
        """Where the audit HMAC key is kept when `LIMS_AUDIT_KEY` is not set."""
        return self.audit_key_file or self.var_dir / "audit_key"

    def resolved_audit_signing_key_file(self) -> Path:
        """Where the Ed25519 key that signs audit checkpoints is kept."""
        return self.audit_signing_key_file or self.var_dir / "audit_signing_key.pem"

    def resolved_audit_checkpoint_dir(self) -> Path:
        """The folder of the append-only checkpoint file."""
        return self.audit_checkpoint_dir or self.var_dir / "audit-checkpoints"

    def resolved_secret_key(self) -> str:
        """The signing key: `LIMS_SECRET_KEY`, else the key file in `var_dir`, created once (0600, atomically)."""
        if self.secret_key:
            return self.secret_key
        if self._secret is None:
            self._secret = read_or_create_key(self.var_dir / SECRET_KEY_FILE)
        return self._secret


def read_or_create_key(path: Path) -> str:
    """The key kept in `path`; a missing file is first created (0600, atomically) with a new random key."""
    try:
        key = read_or_create(path, lambda: (secrets.token_urlsafe(48) + "\n").encode()).decode().strip()
    except (SecretFileError, UnicodeDecodeError) as exc:
        raise SettingsError(f"the secret key file: {exc}") from None
    if len(key.encode()) < MIN_SECRET_KEY_BYTES:
        raise SettingsError(
            f"the key in {path} has {len(key.encode())} bytes; it needs at least {MIN_SECRET_KEY_BYTES} "
            "(delete the file to have a new one generated, which signs everyone out)"
        )
    return key


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment; SettingsError says what is wrong."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"LIMS_{'_'.join(str(p) for p in e['loc']).upper()}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise SettingsError(problems) from None
