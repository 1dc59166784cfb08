"""A department with its own SCRAM user on the secured broker, and a grant source to change."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import pytest
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._acl import AclBindingFilter, AclOperation, AclPermissionType
from confluent_kafka.admin._resource import ResourcePatternType, ResourceType

from govbus.dev.kafka import ClusterHandle
from govbus.dev.kafka_config import Credentials
from govbus.dev.kafka_security import create_scram_user
from govbus.gateway.acls import AclScope, GrantLike
from govbus.testing import create_topic


@dataclass
class GrantBook:
    """The grants the reconciler sees: tests approve (append) and revoke (remove)."""

    grants: list[GrantLike] = field(default_factory=list)

    def __call__(self, at: datetime) -> Sequence[GrantLike]:
        return list(self.grants)


@dataclass(frozen=True)
class Bank:
    """BANK01 with a Kafka user of its own (unique per test: the broker lives all session)."""

    user: Credentials
    scope: AclScope

    @property
    def principal(self) -> str:
        return f"User:{self.user.username}"

    @property
    def group(self) -> str:
        return f"govbus.bank01.reader-{uuid.uuid4().hex[:6]}"


@pytest.fixture
def bank(kafka_secure: ClusterHandle) -> Iterator[Bank]:
    name = f"bank01-{uuid.uuid4().hex[:8]}"
    user = create_scram_user(kafka_secure.client_config(), name, f"{name}-secret")
    # Only BANK01 has a Kafka principal here: other departments get no ACLs in these tests.
    yield Bank(user, AclScope(users={"BANK01": [name]}))
    _drop_acls_of(kafka_secure, f"User:{name}")


def ensure_topic(cluster: ClusterHandle, topic: str) -> str:
    admin = AdminClient(cluster.client_config())
    if topic not in admin.list_topics(timeout=10).topics:
        create_topic(cluster.client_config(), topic)
    return topic


def _drop_acls_of(cluster: ClusterHandle, principal: str) -> None:
    query = AclBindingFilter(
        ResourceType.ANY,
        None,  # type: ignore[arg-type]
        ResourcePatternType.ANY,
        principal,
        None,  # type: ignore[arg-type]
        AclOperation.ANY,
        AclPermissionType.ANY,
    )
    admin = AdminClient(cluster.client_config())
    for future in admin.delete_acls([query]).values():
        future.result(10)
