"""Schemathesis over the gateway's own OpenAPI document, in-process: no route answers a 5xx.

Bounded: a few examples per operation, so the run takes well under a minute. The ingest
route publishes to an in-memory producer (no broker), so an accepted batch is a 202, not a
503. Credentials are the dev ones (deploy/local/gateway-credentials.yaml).
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from govbus import load_contract
from govbus.gateway._app import create_app
from govbus.gateway._ingest import IngestState
from govbus.gateway._settings import GatewaySettings
from govbus.producers.testing import InMemoryProducer

DATA_BUREAU = "Basic " + base64.b64encode(b"data-bureau:dev-data-bureau").decode()


@pytest.fixture(scope="module")
def gateway_api(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp: Path = tmp_path_factory.mktemp("schemathesis")
    gateway_settings = GatewaySettings(
        bootstrap_servers="127.0.0.1:1", gateway_db=f"sqlite:///{tmp / 'gateway.db'}"
    )
    app = create_app(gateway_settings)
    ingest = IngestState(gateway_settings, ack_timeout=1.0)
    ingest._contract = load_contract(gateway_settings)
    ingest._producer = InMemoryProducer()
    app.state.ingest = ingest
    return schemathesis.openapi.from_asgi("/openapi.json", app)


# Schemathesis's own pytest integration (`from_fixture`) breaks on pytest 9 (`_nodeid`), so
# each operation's strategy is driven by hypothesis here, positive and negative cases alike.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance]
# GOVBUS_SCHEMATHESIS_EXAMPLES=200 for a longer hunt; the default run stays well under a minute.
BOUNDED = settings(
    max_examples=int(os.environ.get("GOVBUS_SCHEMATHESIS_EXAMPLES", "10")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)


def operations(schema: Any) -> list[Any]:
    found = [result.ok() for result in schema.get_all_operations()]
    assert len(found) >= 19, [op.label for op in found]  # 16 registry, events, 2 catalog
    return found


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_operation_answers_a_5xx(gateway_api: Any, mode: GenerationMode) -> None:
    for operation in operations(gateway_api):

        @BOUNDED
        @given(case=operation.as_strategy(generation_mode=mode))
        def exercise(case: Any) -> None:
            response = case.call_and_validate(headers={"Authorization": DATA_BUREAU}, checks=CHECKS)
            assert "Traceback" not in response.text
            if response.status_code >= 400:
                assert response.json()["error_code"] not in (None, "")

        exercise()
