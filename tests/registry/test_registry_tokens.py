"""confluent-kafka's SchemaRegistryClient authenticates with `name:token` (basic.auth.user.info)."""

from __future__ import annotations

import pytest
from confluent_kafka.schema_registry.error import SchemaRegistryError

from govbus.gateway._settings import GatewaySettings
from govbus.gateway.audit import MemoryAuditLog
from govbus.gateway.principals import principal_service

from .conftest import registry_client


def test_the_registry_client_uses_a_token_until_it_is_revoked(
    registry_url: str, gateway_db: str
) -> None:
    service = principal_service(GatewaySettings(gateway_db=gateway_db), MemoryAuditLog())
    service.create("test", "psb-app", ["provider"], "PSB")
    issued = service.create_token("test", "psb-app")
    client = registry_client(registry_url, f"psb-app:{issued.token}")
    assert client.get_subjects() == []
    service.revoke_token("test", issued.token_id)
    with pytest.raises(SchemaRegistryError) as refused:
        registry_client(registry_url, f"psb-app:{issued.token}").get_subjects()
    assert refused.value.http_status_code == 401
    assert refused.value.error_code == 40101
