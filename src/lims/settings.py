"""Settings from `LIMS_…` environment variables (pydantic-settings)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Runtime configuration; every field can be set as `LIMS_<FIELD>`."""

    model_config = SettingsConfigDict(env_prefix="LIMS_", extra="ignore")

    var_dir: Path = Path("var")
    database_url: str = ""
    secret_key: str = ""
    token_minutes: int = 12 * 60
    public_base_url: str = "http://127.0.0.1:8000"
    link_timer_scale: float = 1.0
    # The audit trail's secrets and checkpoints live outside the database (see `lims.services.audit_keys`).
    audit_key: SecretStr = SecretStr("")
    audit_key_file: Path | None = None
    audit_signing_key_file: Path | None = None
    audit_checkpoint_dir: Path | None = None
    audit_checkpoint_seconds: float = Field(default=3600.0, ge=0, description="0: no checkpoints while serving")
    audit_seal_broken_chain: bool = False

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under `var_dir`."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.var_dir / 'lims.db'}"

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
        """The signing key; generated once and kept in `var_dir` when not configured."""
        if self.secret_key:
            return self.secret_key
        path = self.var_dir / "secret_key"
        if not path.exists():
            self.var_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
