"""Gateway settings: the shared govbus settings plus the gateway's database and credentials."""

from __future__ import annotations

from pathlib import Path

from govbus import Settings


class GatewaySettings(Settings):
    """Read from `GOVBUS_*` like the core settings, e.g. `GOVBUS_GATEWAY_DB`."""

    # sqlite:///path (default) or postgresql://... for a shared, durable gateway database.
    gateway_db: str = "sqlite:///gateway.db"
    # YAML with principals and salted secret hashes (`govbus gateway credentials init`).
    # Unset: the dev file in a checkout (with a warning); an installed gateway refuses.
    gateway_credentials: Path | None = None
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8081
    # Seconds between sweeps that record subscription escalations and expiries.
    subscription_sweep_seconds: float = 1.0
