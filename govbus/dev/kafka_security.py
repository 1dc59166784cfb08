"""SCRAM users and ACLs on a secure cluster, through the admin API (no CLI tools)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

# confluent_kafka.admin imports these without re-exporting them (no __all__), so strict
# mypy only accepts them from the modules that define them.
from confluent_kafka.admin._acl import AclBinding, AclOperation, AclPermissionType
from confluent_kafka.admin._resource import ResourcePatternType, ResourceType
from confluent_kafka.admin._scram import (
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialUpsertion,
)

from govbus.dev.kafka_config import SCRAM_MECHANISM, Credentials


def create_scram_user(
    admin_config: Mapping[str, str],
    username: str,
    password: str,
    iterations: int = 8192,
    timeout: float = 30.0,
) -> Credentials:
    """Create or update a SCRAM-SHA-512 user, then wait until it can log in.

    Credentials reach the brokers asynchronously after the controller commits them.
    """
    admin = AdminClient({**admin_config})
    upsert = UserScramCredentialUpsertion(
        username,
        ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, iterations),
        password.encode(),
    )
    for future in admin.alter_user_scram_credentials([upsert]).values():
        future.result(timeout)
    credentials = Credentials(username, password, SCRAM_MECHANISM)
    _wait_until_login_works(admin_config, credentials, timeout)
    return credentials


def grant(
    admin_config: Mapping[str, str],
    principal: str,
    resource_type: str,
    resource_name: str,
    operations: Iterable[str],
    prefixed: bool = False,
    timeout: float = 30.0,
) -> None:
    """Allow `principal` ("User:name") the operations ("READ", "WRITE", ...) on a resource.

    `resource_type` is "TOPIC", "GROUP", "CLUSTER" or "TRANSACTIONAL_ID". Like all ACL
    changes, the grant applies on each broker shortly after this returns.
    """
    pattern = ResourcePatternType.PREFIXED if prefixed else ResourcePatternType.LITERAL
    bindings = [
        AclBinding(
            ResourceType[resource_type.upper()],
            resource_name,
            pattern,
            principal,
            "*",
            AclOperation[operation.upper()],
            AclPermissionType.ALLOW,
        )
        for operation in operations
    ]
    admin = AdminClient({**admin_config})
    for future in admin.create_acls(bindings).values():
        future.result(timeout)


def _wait_until_login_works(
    admin_config: Mapping[str, str], credentials: Credentials, timeout: float
) -> None:
    config: dict[str, str | int | float | bool] = {
        "bootstrap.servers": admin_config["bootstrap.servers"],
        "log_level": 0,
        **credentials.client_config(),
    }
    deadline = time.monotonic() + timeout
    while True:
        try:
            AdminClient(config).list_topics(timeout=2.0)
            return
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
