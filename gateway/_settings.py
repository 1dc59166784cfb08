"""Gateway settings: the shared govbus settings plus the gateway's database and credentials."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from govbus import Settings


class GatewaySettings(Settings):
    """Read from `GOVBUS_*` like the core settings, e.g. `GOVBUS_GATEWAY_DB`."""

    # sqlite:///path (default) or postgresql://... for a shared, durable gateway database.
    gateway_db: str = "sqlite:///gateway.db"
    # YAML with principals and salted secret hashes (`govbus gateway credentials init`),
    # imported once into an empty database (the first admin); afterwards the database rules.
    # Unset: the dev file in a checkout (with a warning); an installed gateway refuses.
    gateway_credentials: Path | None = None
    # The server key of token digests (64 hex digits; written when the file is absent).
    # Unset: .govbus/gateway-token.key in a checkout; an installed gateway refuses.
    gateway_token_key_file: Path | None = None
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8081
    # Keep the broker's ACLs in step with the grants (a secured broker; the GOVBUS_SASL_*
    # user must be a super user or hold ALTER on the cluster). Off: no reconciler runs.
    gateway_acls: bool = False
    gateway_acl_interval_seconds: float = 1.0
    # The store sync's SASL user and group: it reads every base topic raw.
    gateway_sync_kafka_user: str | None = None
    gateway_sync_group: str = "base-store"
    # Requests a second per principal (and the burst above it); 429 with Retry-After beyond.
    gateway_rate_per_second: float = 50.0
    gateway_rate_burst: int = 200
    # Failed authentications a minute per client address (and the burst); then 429.
    gateway_auth_failures_per_minute: float = 30.0
    gateway_auth_failures_burst: int = 20
    # Connections of the lookups' read-only pool on a PostgreSQL store (GOVBUS_STORE_URL);
    # a SQLite store gets one read-only connection per server thread instead.
    store_read_pool_size: int = Field(default=8, ge=1)
    # Seconds between sweeps that record subscription escalations and expiries.
    subscription_sweep_seconds: float = 1.0
    # The views file `govbus project --views` reads, rewritten on every grant change; unset:
    # not written (`govbus admin views export` writes it on demand).
    gateway_views_file: Path | None = None

    # The audit log (docs/gateway.md, "Audit"). The Ed25519 key (PEM) that signs checkpoints;
    # unset in a checkout: .govbus/audit-signing-key.pem, generated on first start.
    audit_signing_key: Path | None = None
    audit_checkpoint_every: int = Field(default=100, ge=1)  # entries
    audit_checkpoint_seconds: float = Field(default=60.0, ge=0)  # 0: no timer
    audit_topic: str = "govbus.audit"
    # Mirror the log to audit_topic; unset: when GOVBUS_BOOTSTRAP_SERVERS is configured.
    audit_mirror: bool | None = None

    def audit_mirror_enabled(self) -> bool:
        if self.audit_mirror is not None:
            return self.audit_mirror
        return "bootstrap_servers" in self.model_fields_set
