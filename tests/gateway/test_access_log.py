"""uvicorn's access log, from a real `uvicorn` server: routes, not paths, and no queries."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from govbus.gateway._app import create_app
from govbus.gateway._settings import GatewaySettings

CITIZEN_ID = "11010519491231002X"
BANK = ("bank01", "dev-bank01")


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Lines]]:
    app = create_app(GatewaySettings(gateway_db=f"sqlite:///{tmp_path / 'gateway.db'}"))
    server = uvicorn.Server(uvicorn.Config(app, log_level="info", lifespan="off"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "gateway did not start"
        time.sleep(0.02)
    lines = Lines()
    logging.getLogger("uvicorn.access").addHandler(lines)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", lines
    finally:
        logging.getLogger("uvicorn.access").removeHandler(lines)
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_access_lines_name_routes_without_path_values_or_queries(
    served: tuple[str, Lines],
) -> None:
    url, lines = served
    with httpx.Client(base_url=url, auth=BANK, timeout=10) as client:
        assert client.get(f"/subjects/{CITIZEN_ID}/versions?who={CITIZEN_ID}").status_code == 404
        assert client.get(f"/v1/catalog/{CITIZEN_ID}").status_code == 404
        assert client.get("/v1/catalog?page=13912345678").status_code == 200
        # A lookup route (no base store here: 503) and a path no route serves.
        assert client.get(f"/v1/persons/{CITIZEN_ID}").status_code == 503
        assert client.get(f"/v1/people/{CITIZEN_ID}").status_code == 404
    deadline = time.monotonic() + 5
    while len(lines.lines) < 5 and time.monotonic() < deadline:
        time.sleep(0.02)
    text = "\n".join(lines.lines)
    assert len(lines.lines) == 5, text
    assert CITIZEN_ID not in text and "13912345678" not in text and "?" not in text
    assert '"GET /subjects/{subject}/versions HTTP/1.1" 404' in text
    assert '"GET /v1/catalog/{resource} HTTP/1.1" 404' in text
    assert '"GET /v1/catalog HTTP/1.1" 200' in text
    assert '"GET (no route) HTTP/1.1" 404' in text
    assert '"GET /v1/persons/{id_number} HTTP/1.1" 503' in text
