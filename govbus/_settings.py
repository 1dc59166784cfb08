"""Settings shared by every role, read from `GOVBUS_*` environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# The checkout's root, for tests only: run-time code asks `checkout_root()`, which is None
# for an installed package.
REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOVBUS_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None

    # Unset: schema ids come from the local schemas/ directory (embedded mode).
    schema_registry_url: str | None = None
    schema_registry_auth: SecretStr | None = None

    # Shipped inside the package (govbus/schemas, a symlink to the top-level folder in a checkout).
    schemas_dir: Path = Path(__file__).resolve().parent / "schemas"
    store_url: str = "sqlite:///base.db"
    dlq_topic: str = "govbus.dlq"
    # Keyed pseudonyms for person record keys; set a real secret in production.
    pseudonym_key: SecretStr = SecretStr("govbus-development-pseudonym-key")
    max_event_bytes: int = 1_000_000
    # The native hot paths (native/, Rust) where built; GOVBUS_NATIVE=0 keeps pure Python.
    native: bool = True

    log_level: str = "INFO"
    log_format: str = "console"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
