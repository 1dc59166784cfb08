"""The shape of a local KRaft cluster and the `server.properties` each node runs with."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
SCRAM_MECHANISM = "SCRAM-SHA-512"


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    mechanism: str = SCRAM_MECHANISM

    def client_config(self) -> dict[str, str]:
        return {
            "security.protocol": "SASL_PLAINTEXT",
            "sasl.mechanism": self.mechanism,
            "sasl.username": self.username,
            "sasl.password": self.password,
        }


@dataclass(frozen=True)
class KafkaNode:
    """One combined broker+controller process."""

    node_id: int
    broker_port: int
    controller_port: int
    directory_id: str
    directory: Path

    @property
    def properties_path(self) -> Path:
        return self.directory / "server.properties"

    @property
    def data_dir(self) -> Path:
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    @property
    def stdout_path(self) -> Path:
        return self.directory / "stdout.log"

    @property
    def pid_path(self) -> Path:
        return self.directory / "kafka.pid"

    @property
    def broker_address(self) -> str:
        return f"{HOST}:{self.broker_port}"

    @property
    def controller_address(self) -> str:
        return f"{HOST}:{self.controller_port}"


def kafka_uuid() -> str:
    """A Kafka `Uuid` (url-safe base64, unpadded), as `StorageTool random-uuid` prints.

    Generated here to save a JVM start per id. Kafka rejects ids starting with '-'.
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def server_properties(node: KafkaNode, nodes: list[KafkaNode], admin: Credentials | None) -> str:
    """The node's config; `admin` set means SASL/SCRAM plus ACLs on the client listener."""
    replicas = len(nodes)
    props: dict[str, str] = {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.bootstrap.servers": ",".join(n.controller_address for n in nodes),
        "controller.listener.names": "CONTROLLER",
        "log.dirs": str(node.data_dir),
        "num.partitions": "1",
        "default.replication.factor": str(replicas),
        "min.insync.replicas": str(min(2, replicas)),
        "offsets.topic.replication.factor": str(replicas),
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": str(min(2, replicas)),
        "share.coordinator.state.topic.replication.factor": str(replicas),
        "share.coordinator.state.topic.min.isr": str(min(2, replicas)),
        # Tests start consumers one after another; waiting 3 s per group adds nothing.
        "group.initial.rebalance.delay.ms": "0",
        # Few partitions and tiny topics: keep the per-node memory and file handles low.
        "num.network.threads": "2",
        "num.io.threads": "4",
        "log.segment.bytes": str(64 * 1024 * 1024),
        "num.recovery.threads.per.data.dir": "1",
    }
    if admin is None:
        props |= {
            "listeners": f"PLAINTEXT://{node.broker_address},CONTROLLER://{node.controller_address}",
            "advertised.listeners": f"PLAINTEXT://{node.broker_address}",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
        }
    else:
        props |= _secure_properties(node, admin)
    lines = [f"# Written by govbus.dev.kafka for node {node.node_id}; edits are overwritten."]
    lines += [f"{key}={value}" for key, value in props.items()]
    return "\n".join(lines) + "\n"


def _secure_properties(node: KafkaNode, admin: Credentials) -> dict[str, str]:
    mechanism = admin.mechanism.lower()
    jaas = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required "
        f'username="{admin.username}" password="{admin.password}";'
    )
    return {
        "listeners": (
            f"SASL_PLAINTEXT://{node.broker_address},CONTROLLER://{node.controller_address}"
        ),
        "advertised.listeners": f"SASL_PLAINTEXT://{node.broker_address}",
        "listener.security.protocol.map": "SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT",
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": admin.mechanism,
        "sasl.mechanism.inter.broker.protocol": admin.mechanism,
        f"listener.name.sasl_plaintext.{mechanism}.sasl.jaas.config": jaas,
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        # The controller listener is PLAINTEXT (SCRAM cannot work before metadata is
        # loaded), so brokers and controllers reach it as ANONYMOUS: it must be super.
        "super.users": f"User:{admin.username};User:ANONYMOUS",
        "allow.everyone.if.no.acl.found": "false",
    }
