"""The registry on PostgreSQL: the same API, ids stable across a restart."""

from __future__ import annotations

import pytest
from confluent_kafka.schema_registry import Schema
from confluent_kafka.schema_registry.error import SchemaRegistryError

from govbus import SchemaRepository
from govbus._settings import REPO_ROOT
from tests.registry.conftest import registry_client, serve_gateway

pytestmark = pytest.mark.postgres
REPO = SchemaRepository(REPO_ROOT / "schemas" / "avro")
SUBJECT = "govbus.base.legal-entity-value"


def test_postgres_registry_keeps_ids_and_refuses_atomically(pg_database: str) -> None:
    v1, v2 = (v.canonical for v in REPO.versions("legal_entity_changed"))
    with serve_gateway(pg_database) as url:
        client = registry_client(url)
        ids = [client.register_schema(SUBJECT, Schema(text, "AVRO")) for text in (v1, v2)]
        with pytest.raises(SchemaRegistryError) as refused:
            client.register_schema(SUBJECT, Schema('{"type": "record"}', "AVRO"))
        assert refused.value.error_code == 42201
    with serve_gateway(pg_database) as url:
        client = registry_client(url)
        assert [client.get_version(SUBJECT, n).schema_id for n in (1, 2)] == ids
        assert client.register_schema("other-value", Schema(v2, "AVRO")) == ids[1]
        assert client.get_versions(SUBJECT) == [1, 2]
