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


def test_control_characters_in_subjects_are_422_not_a_database_error(pg_database: str) -> None:
    import httpx

    v1 = REPO.versions("legal_entity_changed")[0].canonical
    with serve_gateway(pg_database) as url:
        for path in ("/subjects/a%00b/versions", "/subjects/a%01b"):
            reply = httpx.post(
                url + path,
                json={"schema": v1},
                auth=("registry-admin", "dev-registry-admin"),
            )
            assert reply.status_code == 422, reply.text
            assert reply.json()["error_code"] == 42208
        long_name = httpx.get(
            url + "/subjects/" + "x" * 300 + "/versions", auth=("bank01", "dev-bank01")
        )
        assert long_name.status_code == 422
