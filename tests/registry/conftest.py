"""A real gateway served by uvicorn on 127.0.0.1 (random port), in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from govbus.gateway._app import create_app
from govbus.gateway._settings import GatewaySettings

ADMIN = "registry-admin:dev-registry-admin"
DEPARTMENT = "psb:dev-psb"
ServeGateway = Callable[[str], Any]


@contextmanager
def serve_gateway(db_url: str) -> Iterator[str]:
    """Serve a gateway on a free port until the block ends; yields its base URL."""
    settings = GatewaySettings(gateway_db=db_url)
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), log_level="warning", lifespan="off")
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("gateway did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def gateway_db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'gateway.db'}"


@pytest.fixture
def registry_url(gateway_db: str) -> Iterator[str]:
    with serve_gateway(gateway_db) as url:
        yield url


def registry_client(url: str, auth: str | None = ADMIN) -> Any:
    from confluent_kafka.schema_registry import SchemaRegistryClient

    conf: dict[str, Any] = {"url": url}
    if auth:
        conf["basic.auth.user.info"] = auth
    return SchemaRegistryClient(conf)
