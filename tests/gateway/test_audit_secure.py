"""The mirror and `audit verify --from-kafka` on the secured broker (SASL/SCRAM, ACLs), as a
gateway principal holding only the audit topic's ACLs."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from govbus.dev.kafka import ClusterHandle
from govbus.dev.kafka_security import create_scram_user, grant
from govbus.gateway._settings import GatewaySettings
from govbus.gateway.audit import READER_GROUP_PREFIX
from tests.gateway.audit_helpers import key_file, verify
from tests.gateway.test_audit_kafka import mirrored

pytestmark = pytest.mark.kafka


def as_user(cluster: ClusterHandle, topic: str, operations: list[str]) -> dict[str, str]:
    name = f"gateway-{uuid.uuid4().hex[:8]}"
    user = create_scram_user(cluster.client_config(), name, f"{name}-password")
    if operations:
        grant(cluster.client_config(), f"User:{name}", "TOPIC", topic, operations)
        grant(
            cluster.client_config(),
            f"User:{name}",
            "GROUP",
            READER_GROUP_PREFIX,
            ["READ"],
            prefixed=True,
        )
    return {
        "GOVBUS_BOOTSTRAP_SERVERS": cluster.bootstrap_servers,
        "GOVBUS_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "GOVBUS_SASL_MECHANISM": user.mechanism,
        "GOVBUS_SASL_USERNAME": user.username,
        "GOVBUS_SASL_PASSWORD": user.password,
    }


def test_the_mirror_and_verify_work_with_only_the_audit_topics_acls(
    kafka_secure: ClusterHandle, tmp_path: Path
) -> None:
    topic = f"test-audit-{uuid.uuid4().hex[:12]}"
    env = as_user(kafka_secure, topic, ["CREATE", "DESCRIBE", "WRITE", "READ"])
    settings = GatewaySettings(
        bootstrap_servers=env["GOVBUS_BOOTSTRAP_SERVERS"],
        security_protocol=env["GOVBUS_SECURITY_PROTOCOL"],
        sasl_mechanism=env["GOVBUS_SASL_MECHANISM"],
        sasl_username=env["GOVBUS_SASL_USERNAME"],
        sasl_password=env["GOVBUS_SASL_PASSWORD"],
        gateway_db=f"sqlite:///{tmp_path / 'gateway.db'}",
        audit_topic=topic,
    )
    key = key_file(tmp_path)
    mirrored(settings, key, 7)
    mirrored(settings, key, 2, start=7)  # a restart: reads where the mirror stands
    result = verify("--from-kafka", "--topic", topic, "--public-key", str(key), env=env)
    assert result.exit_code == 0, result.output
    assert "9 entries, 3 checkpoints, last checkpoint seq 9" in result.output

    outsider = as_user(kafka_secure, topic, [])
    refused = verify("--from-kafka", "--topic", topic, "--public-key", str(key), env=outsider)
    assert refused.exit_code == 2, refused.output
    [line] = refused.output.strip().splitlines()
    assert line.startswith("error AUDIT_TOPIC_UNREADABLE: ")
