"""A gateway app over a fresh SQLite database, seeded from the development credentials."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from govbus.gateway._app import create_app
from govbus.gateway._settings import GatewaySettings

ADMIN = ("registry-admin", "dev-registry-admin")
PSB = ("psb", "dev-psb")


def basic(name: str, secret: str) -> dict[str, str]:
    value = base64.b64encode(f"{name}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {value}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def gateway_settings(tmp_path: Path, **overrides: Any) -> GatewaySettings:
    return GatewaySettings(
        gateway_db=f"sqlite:///{tmp_path / 'gateway.db'}",
        gateway_token_key_file=tmp_path / "token.key",
        **overrides,
    )


def gateway(tmp_path: Path, **overrides: Any) -> tuple[FastAPI, TestClient]:
    app = create_app(gateway_settings(tmp_path, **overrides))
    return app, TestClient(app)
