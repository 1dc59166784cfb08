"""The projector: keeps one worker per wanted view, creates and retires view topics.

The wanted views come from outside (a views file the gateway exports from its grants, or
`--view` flags) through `govbus.view_policies`, so the projector never imports the gateway
and events only flow base topic → projector → view topic. For each wanted view it creates
the topic (the base topic's partition count), registers the view schema under the topic's
subject, and starts a worker whose consumer group is new: it backfills from the start of
the base topic. A view topic no longer wanted stops being written at once and is deleted,
with its consumer group, once it has stayed unwanted for the grace period.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from govbus import (
    VIEW_TOPIC_PREFIX,
    Contract,
    ErrorCode,
    GovbusError,
    GrantPolicy,
    Settings,
    admin_config,
    ensure_topics,
)
from govbus.consumers._view_projection import ViewProjection, make_view
from govbus.consumers._view_worker import ViewWorker, WorkerOptions

log = structlog.get_logger("govbus.project")

WantedViews = Callable[[], list[GrantPolicy]]


@dataclass(frozen=True)
class ProjectorOptions:
    topic_prefix: str = ""
    refresh_seconds: float = 10.0
    delete_grace_seconds: float = 24 * 3600.0
    max_idle_seconds: float | None = None
    """Stop once every view is caught up and none got a record for this long."""
    worker: WorkerOptions = field(default_factory=WorkerOptions)


@dataclass
class ProjectorService:
    settings: Settings
    contract: Contract
    wanted: WantedViews
    options: ProjectorOptions = field(default_factory=ProjectorOptions)
    registry: Any = None
    """A confluent SchemaRegistryClient; where None, one is made from the settings."""
    workers: dict[str, tuple[ViewWorker, threading.Thread]] = field(default_factory=dict)
    _unwanted_since: dict[str, float] = field(default_factory=dict)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _failed: list[tuple[str, BaseException]] = field(default_factory=list)

    def stop(self) -> None:
        """Finish the open transactions and leave the groups (safe from a signal handler)."""
        self._stopping.set()

    def run(self) -> None:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient(admin_config(self.settings))
        self.registry = self.registry or _registry_client(self.settings)
        try:
            while not self._stopping.is_set():
                self.reconcile(admin)
                if self._failed:
                    topic, error = self._failed[0]
                    raise GovbusError(ErrorCode.KAFKA_ERROR, f"view {topic}: {error}") from error
                if self._idle():
                    break
                self._stopping.wait(self.options.refresh_seconds)
        finally:
            for worker, _thread in self.workers.values():
                worker.stop()
            for _worker, thread in self.workers.values():
                thread.join(timeout=60)

    def reconcile(self, admin: Any) -> None:
        """Start the views wanted and not running; stop and, after the grace, delete the rest."""
        wanted = {self.options.topic_prefix + p.view_topic: p for p in self.wanted()}
        for topic, policy in wanted.items():
            self._unwanted_since.pop(topic, None)
            if topic not in self.workers:
                self._start(admin, policy)
        for topic in [t for t in self.workers if t not in wanted]:
            worker, thread = self.workers.pop(topic)
            worker.stop()
            thread.join(timeout=60)
            log.info("view no longer wanted", view=topic)
        self._retire(admin, set(wanted))

    def _start(self, admin: Any, policy: GrantPolicy) -> None:
        base = self.contract.latest_schema(policy.resource).definition
        view = make_view(policy, base, self.options.topic_prefix)
        partitions = _partition_count(admin, view.base_topic)
        created = ensure_topics(admin_config(self.settings), [view.topic], partitions=partitions)
        if not created and _partition_count(admin, view.topic) != partitions:
            raise GovbusError(  # same partition per key would no longer hold
                ErrorCode.KAFKA_ERROR,
                f"view {view.topic} and its base topic have different partition counts",
            )
        schema_id = self._register(view)
        worker = ViewWorker(
            self.settings, view, self.contract.resolver, schema_id, self.options.worker
        )
        thread = threading.Thread(
            target=self._run_worker, args=(worker,), name=f"view {view.topic}", daemon=True
        )
        self.workers[view.topic] = (worker, thread)
        thread.start()
        log.info(
            "view topic ready",
            view=view.topic,
            resource=policy.resource.code,
            fields=sorted(policy.delivered),
            created=bool(created),
            partitions=partitions,
        )

    def _run_worker(self, worker: ViewWorker) -> None:
        try:
            worker.run()
        except BaseException as error:  # the service stops; a supervisor restarts it
            log.error("view worker failed", view=worker.view.topic, error=str(error))
            self._failed.append((worker.view.topic, error))
            self._stopping.set()

    def _register(self, view: ViewProjection) -> int:
        from confluent_kafka.schema_registry import Schema
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        schema = Schema(json.dumps(view.schema, separators=(",", ":")), "AVRO")
        try:
            return int(self.registry.register_schema(view.subject, schema))
        except SchemaRegistryError as error:
            raise GovbusError(
                ErrorCode.REGISTRY_ERROR,
                f"registering {view.subject}: {error.error_message} ({error.http_status_code})",
            ) from None

    def _retire(self, admin: Any, wanted: set[str]) -> None:
        """Delete view topics unwanted for longer than the grace (the clock starts on first
        sight in this process, so a restart only ever delays a deletion)."""
        prefix = self.options.topic_prefix + VIEW_TOPIC_PREFIX
        existing = {t for t in admin.list_topics(timeout=30).topics if t.startswith(prefix)}
        now = time.monotonic()
        for topic in sorted(existing - wanted):
            since = self._unwanted_since.setdefault(topic, now)
            if now - since < self.options.delete_grace_seconds:
                continue
            _delete_view(admin, topic, self.options.worker.group_prefix + topic)
            self._unwanted_since.pop(topic, None)
            log.info(
                "view topic deleted", view=topic, grace_seconds=self.options.delete_grace_seconds
            )
        for topic in [t for t in self._unwanted_since if t not in existing]:
            del self._unwanted_since[topic]

    def _idle(self) -> bool:
        limit = self.options.max_idle_seconds
        if limit is None or not self.workers:
            return False
        return all(w.caught_up and w.idle_seconds > limit for w, _t in self.workers.values())


def _partition_count(admin: Any, topic: str) -> int:
    metadata = admin.list_topics(topic, timeout=30).topics.get(topic)
    if metadata is None or metadata.error is not None or not metadata.partitions:
        raise GovbusError(
            ErrorCode.KAFKA_ERROR, f"topic {topic} does not exist (govbus admin topics ensure)"
        )
    return len(metadata.partitions)


def _delete_view(admin: Any, topic: str, group: str) -> None:
    from confluent_kafka import KafkaException

    for future in admin.delete_topics([topic], operation_timeout=30).values():
        future.result()
    try:
        for future in admin.delete_consumer_groups([group], request_timeout=30).values():
            future.result()
    except KafkaException as error:  # no group (never started here) is fine
        log.debug("view group not deleted", group=group, error=str(error))


def _registry_client(settings: Settings) -> Any:
    from confluent_kafka.schema_registry import SchemaRegistryClient

    if not settings.schema_registry_url:
        raise GovbusError(
            ErrorCode.INVALID_SETTING,
            "the projector registers the view schemas: set GOVBUS_SCHEMA_REGISTRY_URL",
        )
    conf: dict[str, Any] = {"url": settings.schema_registry_url}
    if settings.schema_registry_auth:
        conf["basic.auth.user.info"] = settings.schema_registry_auth.get_secret_value()
    return SchemaRegistryClient(conf)
