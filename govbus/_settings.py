"""Settings shared by every role: flag > `GOVBUS_*` variable > `.govbus/env` > default."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Self

from pydantic import Field, PrivateAttr, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from govbus._local_env import find_local_env, read_local_env

# The checkout's root, for tests only: run-time code asks `checkout_root()`, which is None
# for an installed package.
REPO_ROOT = Path(__file__).resolve().parent.parent


class LocalEnvSource(PydanticBaseSettingsSource):
    """The `GOVBUS_*` assignments of the local environment record (`govbus._local_env`)."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path | None) -> None:
        super().__init__(settings_cls)
        self.path = path
        raw = read_local_env(path) if path is not None else {}
        prefix = str(self.config.get("env_prefix", "")).upper()
        self.values = {
            name: raw[key]
            for name in settings_cls.model_fields
            if (key := f"{prefix}{name}".upper()) in raw
        }

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return self.values.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        return dict(self.values)


class SettingOrigin(StrEnum):
    FLAG = "flag"
    ARGUMENT = "argument"  # Settings(name=...) in code
    ENV = "env"
    LOCAL_FILE = "local file"
    DEFAULT = "default"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GOVBUS_", extra="ignore")

    bootstrap_servers: str = "127.0.0.1:9092"
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str = "SCRAM-SHA-512"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    # How long a command waits for the broker before saying none is reachable.
    connect_timeout_seconds: float = 5.0

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
    # How long the sync remembers an applied event id (an outbox retry within it is a
    # duplicate; an older copy is refused by per-field sequences). See consumers/_dedup_retention.
    dedup_retention_days: float = Field(default=30.0, gt=0)

    log_level: str = "INFO"
    log_format: str = "console"

    _flags: frozenset[str] = PrivateAttr(default=frozenset())

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, LocalEnvSource(settings_cls, find_local_env())

    @classmethod
    def from_flags(cls, **flags: Any) -> Self:
        """Settings with a command's flags on top; a flag left at None was not given."""
        given = {name: value for name, value in flags.items() if value is not None}
        settings = cls(**given)
        settings._flags = frozenset(given)
        return settings

    def origins(self) -> dict[str, SettingOrigin]:
        """Where each setting's value came from (read again now, for display)."""
        env = EnvSettingsSource(type(self))()
        local = LocalEnvSource(type(self), find_local_env())()
        origins: dict[str, SettingOrigin] = {}
        for name in type(self).model_fields:
            if name in self._flags:
                origins[name] = SettingOrigin.FLAG
            elif name in env:
                origins[name] = SettingOrigin.ENV
            elif name in local:
                origins[name] = SettingOrigin.LOCAL_FILE
            elif name in self.model_fields_set:
                origins[name] = SettingOrigin.ARGUMENT
            else:
                origins[name] = SettingOrigin.DEFAULT
        return origins

    def origin_note(self, name: str) -> str:
        """`from /path/.govbus/env; ` or `from GOVBUS_X; ` to start a message's aside, or ''."""
        origin = self.origins()[name]
        if origin is SettingOrigin.LOCAL_FILE:
            return f"from {find_local_env()}; "
        if origin is SettingOrigin.ENV:
            return f"from {env_name(name)}; "
        return ""


def env_name(field: str) -> str:
    return f"GOVBUS_{field.upper()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
