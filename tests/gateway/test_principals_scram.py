"""Department principals' SCRAM users on the real secured broker (StandardAuthorizer)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient

from govbus.dev.kafka import ClusterHandle
from govbus.gateway._db import open_database
from govbus.gateway.audit import MemoryAuditLog
from govbus.gateway.principals import PrincipalService, PrincipalStore, ScramUsers

pytestmark = pytest.mark.kafka


def _can_log_in(cluster: ClusterHandle, user: str, password: str, wait: float) -> bool:
    """Whether the user logs in within `wait` s (`not` it: still refused after `wait` s)."""
    errors: list[KafkaError] = []
    config: dict[str, Any] = {
        "bootstrap.servers": cluster.bootstrap_servers,
        "security.protocol": "SASL_PLAINTEXT",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": user,
        "sasl.password": password,
        "log_level": 0,
        "error_cb": errors.append,
    }
    try:
        AdminClient(config).list_topics(timeout=wait)
    except KafkaException:
        return False
    return not any(e.code() == KafkaError._AUTHENTICATION for e in errors)


def _eventually(check: Any, expected: bool, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check() == expected:
            return True
        time.sleep(0.3)
    return False


def test_a_department_gets_a_scram_user_that_is_rotated_and_removed(
    kafka_secure: ClusterHandle, tmp_path: Path
) -> None:
    audit = MemoryAuditLog()
    service = PrincipalService(
        PrincipalStore(open_database(f"sqlite:///{tmp_path / 'g.db'}")),
        b"k" * 32,
        audit,
        kafka_users=ScramUsers(kafka_secure.client_config()),
    )
    made = service.create("test", "health-dept", ["subscriber"], department="HRSS")
    password = made.kafka_password
    assert password and made.principal.kafka_user == "health-dept"
    assert service.kafka_user("health-dept") == "health-dept"
    assert [p.name for p in service.department_principals()] == ["health-dept"]
    assert _eventually(lambda: _can_log_in(kafka_secure, "health-dept", password, 3), True)
    assert not _can_log_in(kafka_secure, "health-dept", "not-the-password", 3)

    rotated = service.rotate_kafka_password("test", "health-dept")
    assert _eventually(lambda: _can_log_in(kafka_secure, "health-dept", rotated, 3), True)
    assert _eventually(lambda: _can_log_in(kafka_secure, "health-dept", password, 3), False)

    service.remove("test", "health-dept")
    assert _eventually(lambda: _can_log_in(kafka_secure, "health-dept", rotated, 3), False)
    actions = [(r.action, r.target) for r in audit.records]
    assert actions == [
        ("principal.created", "health-dept"),
        ("scram.created", "health-dept"),
        ("scram.rotated", "health-dept"),
        ("scram.removed", "health-dept"),
        ("principal.removed", "health-dept"),
    ]
    assert not any(password in r.model_dump_json() for r in audit.records)


def test_services_and_plain_brokers_get_no_scram_user(
    kafka_secure: ClusterHandle, tmp_path: Path
) -> None:
    store = PrincipalStore(open_database(f"sqlite:///{tmp_path / 'g.db'}"))
    secured = PrincipalService(
        store, b"k" * 32, MemoryAuditLog(), kafka_users=ScramUsers(kafka_secure.client_config())
    )
    service_principal = secured.create("test", "psb-batch", ["provider"], "PSB", kind="service")
    assert service_principal.kafka_password is None
    plain = PrincipalService(
        store, b"k" * 32, MemoryAuditLog(), kafka_users=ScramUsers({"bootstrap.servers": "x:1"})
    )
    assert plain.create("test", "cab", ["provider"], "CAB").kafka_password is None
    with pytest.raises(Exception, match="no SASL"):
        plain.create("test", "edu", ["provider"], "EDU", kafka=True)


def test_the_admin_cli_prints_a_scram_password_that_logs_in(
    kafka_secure: ClusterHandle, tmp_path: Path
) -> None:
    assert kafka_secure.admin is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVBUS_")}
    env |= {
        "GOVBUS_GATEWAY_DB": f"sqlite:///{tmp_path / 'g.db'}",
        "GOVBUS_GATEWAY_TOKEN_KEY_FILE": str(tmp_path / "token.key"),
        "GOVBUS_BOOTSTRAP_SERVERS": kafka_secure.bootstrap_servers,
        "GOVBUS_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "GOVBUS_SASL_USERNAME": kafka_secure.admin.username,
        "GOVBUS_SASL_PASSWORD": kafka_secure.admin.password,
    }
    govbus = str(Path(sys.executable).with_name("govbus"))
    made = subprocess.run(
        [govbus, "admin", "principals", "create", "tax-dept", "--role", "provider",
         "--department", "TAX"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    password = made.stdout.strip()
    assert password and password not in made.stderr
    assert _eventually(lambda: _can_log_in(kafka_secure, "tax-dept", password, 3), True)
    removed = subprocess.run(
        [govbus, "admin", "principals", "remove", "tax-dept"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert removed.returncode == 0, removed.stderr
    assert _eventually(lambda: _can_log_in(kafka_secure, "tax-dept", password, 3), False)
