"""Launch, inspect and stop local KRaft Kafka clusters from the jars fetched by Maven.

Each cluster lives in `.govbus/kafka/<name>/`: one directory per node (config, data,
pid, logs) and `cluster.json`, which is the only thing other code needs to read.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from confluent_kafka.admin import AdminClient

from govbus.dev import paths
from govbus.dev.jars import FetchedJars, fetch_jars
from govbus.dev.kafka_config import (
    HOST,
    Credentials,
    KafkaNode,
    kafka_uuid,
    server_properties,
)
from govbus.dev.processes import (
    free_ports,
    is_running,
    kill_now,
    locked,
    log_tail,
    port_is_free,
    spawn_detached,
    stop_pids,
)

START_TIMEOUT = float(os.environ.get("GOVBUS_KAFKA_START_TIMEOUT", "120"))
# The whole cluster goes down at once, so the last nodes lose their quorum and a graceful
# shutdown would hang; the data is deleted anyway, so SIGKILL soon after SIGTERM is fine.
STOP_TIMEOUT = 5.0
# Lean JVM: the broker carries tiny test traffic on a 2-core machine next to other JVMs.
DEFAULT_JVM_OPTS = (
    "-Xms64m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:-UsePerfData "
    "-Djava.awt.headless=true"
)


class KafkaLaunchError(RuntimeError):
    """A cluster could not be started, reached or stopped; the message says why."""


@dataclass(frozen=True)
class ClusterHandle:
    """A running (or recorded) local cluster, as described by its `cluster.json`."""

    name: str
    directory: Path
    cluster_id: str
    nodes: tuple[KafkaNode, ...]
    admin: Credentials | None

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.broker_address for node in self.nodes)

    @property
    def secure(self) -> bool:
        return self.admin is not None

    def client_config(self) -> dict[str, str]:
        """librdkafka settings for a client acting as the admin (super user)."""
        config = {"bootstrap.servers": self.bootstrap_servers}
        if self.admin is not None:
            config |= self.admin.client_config()
        return config

    def node(self, node_id: int) -> KafkaNode:
        for node in self.nodes:
            if node.node_id == node_id:
                return node
        raise KeyError(f"cluster {self.name!r} has no node {node_id}")

    def pid(self, node_id: int) -> int | None:
        return _read_pid(self.node(node_id))

    def running_pids(self) -> dict[int, int]:
        """Node id to pid, for the nodes whose process is alive."""
        result = {}
        for node in self.nodes:
            pid = _read_pid(node)
            if pid is not None and is_running(pid, str(node.properties_path)):
                result[node.node_id] = pid
        return result

    def kill_node(self, node_id: int) -> None:
        kill_node(self.name, node_id)

    def restart_node(self, node_id: int, timeout: float = START_TIMEOUT) -> None:
        restart_node(self.name, node_id, timeout)

    def stop(self) -> None:
        stop_cluster(self.name)


@dataclass(frozen=True)
class ClusterStatus:
    handle: ClusterHandle
    running: dict[int, int]
    healthy: bool

    @property
    def all_running(self) -> bool:
        return len(self.running) == len(self.handle.nodes)


def start_cluster(
    name: str = "local",
    brokers: int = 1,
    secure: bool = False,
    base_port: int | None = None,
    timeout: float = START_TIMEOUT,
    log: Callable[[str], None] = lambda _message: None,
) -> ClusterHandle:
    """Start the cluster, or return it if it already runs with the same shape.

    Nodes of an existing cluster that died are restarted on their old data.
    """
    if brokers not in (1, 3):
        raise ValueError("brokers must be 1 or 3")
    directory = paths.kafka_cluster_dir(name)
    with locked(_lock_path(name), remove=True):
        existing = _load_handle(directory)
        if existing is not None:
            _check_same_shape(existing, brokers, secure)
            jars = fetch_jars()
            for node in existing.nodes:
                pid = _read_pid(node)
                if pid is None or not is_running(pid, str(node.properties_path)):
                    log(f"restarting node {node.node_id} of {name!r}")
                    _spawn_node(node, jars)
            _write_handle(existing)
            _wait_until_healthy(existing, timeout)
            return existing
        jars = fetch_jars()
        handle = _create(name, directory, brokers, secure, base_port, jars)
        log(f"starting {brokers} node(s) of {name!r} in {directory}")
        for node in handle.nodes:
            _spawn_node(node, jars)
        _write_handle(handle)
        try:
            _wait_until_healthy(handle, timeout)
        except KafkaLaunchError:
            # Leave logs for reading, but no processes and no cluster.json to "resume".
            _stop_nodes(handle)
            (directory / "cluster.json").rename(directory / "cluster.failed.json")
            raise
        return handle


def stop_cluster(name: str = "local", timeout: float = STOP_TIMEOUT) -> bool:
    """Stop exactly the processes this launcher started, then delete the state dir.

    Returns False when there was nothing to stop.
    """
    directory = paths.kafka_cluster_dir(name)
    with locked(_lock_path(name), remove=True):
        if not directory.exists():
            return False
        handle = _load_handle(directory)
        if handle is not None:
            _stop_nodes(handle, timeout)
        shutil.rmtree(directory)
        return True


def cluster_status(name: str = "local", probe_timeout: float = 5.0) -> ClusterStatus | None:
    """The recorded cluster with its live pids and a metadata probe; None if none recorded."""
    handle = _load_handle(paths.kafka_cluster_dir(name))
    if handle is None:
        return None
    running = handle.running_pids()
    healthy = bool(running) and _brokers_visible(handle, probe_timeout) >= len(running)
    return ClusterStatus(handle, running, healthy)


def load_cluster(name: str = "local") -> ClusterHandle | None:
    """The handle of a recorded cluster, without checking that it runs."""
    return _load_handle(paths.kafka_cluster_dir(name))


def kill_node(name: str, node_id: int) -> None:
    """SIGKILL one node, as a crash would; its data stays for `restart_node`."""
    handle = _require_handle(name)
    node = handle.node(node_id)
    pid = _read_pid(node)
    if pid is not None:
        kill_now(pid, str(node.properties_path))


def restart_node(name: str, node_id: int, timeout: float = START_TIMEOUT) -> None:
    """Start a stopped node again on its data and wait until it serves metadata."""
    handle = _require_handle(name)
    node = handle.node(node_id)
    with locked(_lock_path(name), remove=True):
        pid = _read_pid(node)
        if pid is None or not is_running(pid, str(node.properties_path)):
            _spawn_node(node, fetch_jars())
            _write_handle(handle)
        _wait_until_healthy(handle, timeout)


def _create(
    name: str,
    directory: Path,
    brokers: int,
    secure: bool,
    base_port: int | None,
    jars: FetchedJars,
) -> ClusterHandle:
    if directory.exists():
        shutil.rmtree(directory)  # leftovers of a failed start
    ports = _choose_ports(2 * brokers, base_port)
    nodes = tuple(
        KafkaNode(
            node_id=index + 1,
            broker_port=ports[2 * index],
            controller_port=ports[2 * index + 1],
            directory_id=kafka_uuid(),
            directory=directory / f"node-{index + 1}",
        )
        for index in range(brokers)
    )
    admin = Credentials("admin", secrets.token_hex(16)) if secure else None
    handle = ClusterHandle(name, directory, kafka_uuid(), nodes, admin)
    for node in nodes:
        node.data_dir.mkdir(parents=True)
        node.properties_path.write_text(server_properties(node, list(nodes), admin))
    _format_storage(handle, jars)
    _write_handle(handle)
    return handle


def _choose_ports(count: int, base_port: int | None) -> list[int]:
    if base_port is None:
        return free_ports(count)
    ports = list(range(base_port, base_port + count))
    busy = [port for port in ports if not port_is_free(port)]
    if busy:
        raise KafkaLaunchError(f"ports already in use on {HOST}: {busy}")
    return ports


def _format_storage(handle: ClusterHandle, jars: FetchedJars) -> None:
    """Write each node's meta.properties and bootstrap metadata (quorum, SCRAM admin)."""
    if len(handle.nodes) == 1:
        quorum = ["--standalone"]
    else:
        voters = ",".join(
            f"{n.node_id}@{n.controller_address}:{n.directory_id}" for n in handle.nodes
        )
        quorum = ["--initial-controllers", voters]
    scram = []
    if handle.admin is not None:
        admin = handle.admin
        scram = [
            "--add-scram",
            f"{admin.mechanism}=[name={admin.username},password={admin.password}]",
        ]
    # Independent JVMs: format all nodes at once to halve the wait on two cores.
    running = []
    for node in handle.nodes:
        command = [
            *_java_command(jars, node, "format.log", "-Xmx256m"),
            "kafka.tools.StorageTool",
            "format",
            "--cluster-id",
            handle.cluster_id,
            "--config",
            str(node.properties_path),
            *quorum,
            *scram,
        ]
        output = open(node.directory / "format.out", "wb")  # noqa: SIM115 - closed below
        running.append((node, output, subprocess.Popen(command, stdout=output, stderr=output)))
    failures = []
    for node, output, process in running:
        code = process.wait()
        output.close()
        if code != 0:
            text = (node.directory / "format.out").read_text(errors="replace")[-2000:]
            failures.append(f"node {node.node_id}: exit {code}\n{text}")
    if failures:
        raise KafkaLaunchError("kafka storage format failed:\n" + "\n".join(failures))


def _java_command(jars: FetchedJars, node: KafkaNode, log_name: str, *jvm_opts: str) -> list[str]:
    log4j = paths.deploy_dir() / "log4j2.properties"
    java = shutil.which("java")
    if java is None:
        raise KafkaLaunchError("`java` not found; run deploy/local/install-system-deps.sh")
    defaults = os.environ.get("GOVBUS_KAFKA_JVM_OPTS", DEFAULT_JVM_OPTS).split()
    return [
        java,
        *defaults,
        *jvm_opts,
        f"-Dlog4j2.configurationFile={log4j}",
        f"-Dlog4j.configurationFile={log4j}",
        f"-Dgovbus.log.file={node.directory / log_name}",
        f"-Dkafka.logs.dir={node.directory}",
        "-cp",
        jars.classpath,
    ]


def _spawn_node(node: KafkaNode, jars: FetchedJars) -> int:
    # The absolute config path in the command line is what marks the process as ours.
    command = [*_java_command(jars, node, "server.log"), "kafka.Kafka", str(node.properties_path)]
    pid = spawn_detached(command, node.stdout_path, node.directory)
    node.pid_path.write_text(f"{pid}\n")
    return pid


def _stop_nodes(handle: ClusterHandle, timeout: float = STOP_TIMEOUT) -> None:
    processes = []
    for node in handle.nodes:
        pid = _read_pid(node)
        if pid is not None:
            processes.append((pid, str(node.properties_path)))
    survivors = stop_pids(processes, timeout)
    if survivors:
        raise KafkaLaunchError(f"kafka processes {survivors} of {handle.name!r} did not exit")


def _wait_until_healthy(handle: ClusterHandle, timeout: float) -> None:
    """Poll metadata until every node is a registered broker; fail fast if one dies."""
    deadline = time.monotonic() + timeout
    expected = len(handle.nodes)
    while True:
        for node in handle.nodes:
            pid = _read_pid(node)
            if pid is None or not is_running(pid, str(node.properties_path)):
                raise KafkaLaunchError(
                    f"kafka node {node.node_id} of {handle.name!r} exited during start-up; "
                    f"last lines of {node.log_path}:\n{_node_log_tail(node)}"
                )
        if _brokers_visible(handle, 2.0) >= expected:
            return
        if time.monotonic() > deadline:
            tails = "\n".join(
                f"--- node {node.node_id} ({node.log_path}):\n{_node_log_tail(node)}"
                for node in handle.nodes
            )
            raise KafkaLaunchError(
                f"kafka {handle.name!r} did not serve metadata for {expected} broker(s) "
                f"within {timeout:.0f}s at {handle.bootstrap_servers}\n{tails}"
            )
        time.sleep(0.5)


def _brokers_visible(handle: ClusterHandle, timeout: float) -> int:
    """How many brokers a metadata request reports; 0 when the cluster cannot be reached."""
    # Quiet config: refused connections during start-up are expected, not news.
    config: dict[str, str | int | float | bool] = {**handle.client_config(), "log_level": 0}
    admin = AdminClient(config)
    try:
        metadata = admin.list_topics(timeout=timeout)
    except Exception:  # KafkaException on timeout or auth failure: "not yet"
        return 0
    return len(metadata.brokers)


def _node_log_tail(node: KafkaNode) -> str:
    parts = [log_tail(node.log_path, 30)]
    stdout = log_tail(node.stdout_path, 10)
    if stdout.strip() and not stdout.startswith("(no log"):
        parts.append(f"--- stdout:\n{stdout}")
    return "\n".join(parts)


def _check_same_shape(handle: ClusterHandle, brokers: int, secure: bool) -> None:
    if len(handle.nodes) != brokers or handle.secure != secure:
        raise KafkaLaunchError(
            f"cluster {handle.name!r} already exists with {len(handle.nodes)} broker(s), "
            f"secure={handle.secure}; run `govbus dev kafka down --name {handle.name}` first"
        )


def _require_handle(name: str) -> ClusterHandle:
    handle = _load_handle(paths.kafka_cluster_dir(name))
    if handle is None:
        raise KafkaLaunchError(f"no kafka cluster named {name!r}")
    return handle


def _lock_path(name: str) -> Path:
    return paths.kafka_cluster_dir(name).parent / f".{name}.lock"


def _read_pid(node: KafkaNode) -> int | None:
    try:
        return int(node.pid_path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _write_handle(handle: ClusterHandle) -> None:
    document: dict[str, Any] = {
        "name": handle.name,
        "cluster_id": handle.cluster_id,
        "bootstrap_servers": handle.bootstrap_servers,
        "secure": handle.secure,
        "nodes": [
            {
                "node_id": node.node_id,
                "broker_port": node.broker_port,
                "controller_port": node.controller_port,
                "directory_id": node.directory_id,
                "directory": str(node.directory),
                "pid": _read_pid(node),
                "pid_file": str(node.pid_path),
                "log": str(node.log_path),
            }
            for node in handle.nodes
        ],
        "admin": None,
    }
    if handle.admin is not None:
        document["admin"] = {
            "username": handle.admin.username,
            "password": handle.admin.password,
            "mechanism": handle.admin.mechanism,
        }
    path = handle.directory / "cluster.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    path.chmod(0o600)  # holds the admin password


def _load_handle(directory: Path) -> ClusterHandle | None:
    try:
        document = json.loads((directory / "cluster.json").read_text())
    except FileNotFoundError:
        return None
    nodes = tuple(
        KafkaNode(
            node_id=int(entry["node_id"]),
            broker_port=int(entry["broker_port"]),
            controller_port=int(entry["controller_port"]),
            directory_id=str(entry["directory_id"]),
            directory=Path(entry["directory"]),
        )
        for entry in document["nodes"]
    )
    admin_entry = document.get("admin")
    admin = (
        Credentials(admin_entry["username"], admin_entry["password"], admin_entry["mechanism"])
        if admin_entry
        else None
    )
    return ClusterHandle(
        name=str(document["name"]),
        directory=directory,
        cluster_id=str(document["cluster_id"]),
        nodes=nodes,
        admin=admin,
    )
