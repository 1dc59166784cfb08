"""Push `schemas/` to a Confluent-compatible schema registry, all or nothing.

Uses confluent-kafka's own client, so it works the same against govbus's registry and
Confluent's. Everything is checked before anything is written: the local gate, then each
subject's first unregistered version against what the registry already holds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from govbus._catalog import load_catalog
from govbus._errors import ErrorCode, GovbusError
from govbus._gate import check_schemas_dir, level_for, schema_levels
from govbus._schemas import SchemaRepository, SchemaVersion

_SCHEMA_NOT_FOUND = 40403
_SUBJECT_NOT_FOUND = 40401


class PushedVersion(BaseModel):
    model_config = ConfigDict(frozen=True)

    subject: str
    file: str
    schema_id: int
    already_registered: bool


def _client(url: str, auth: str | None) -> Any:
    from confluent_kafka.schema_registry import SchemaRegistryClient

    conf: dict[str, Any] = {"url": url}
    if auth:
        conf["basic.auth.user.info"] = auth
    return SchemaRegistryClient(conf)


def _subjects(schemas_dir: Path, repository: SchemaRepository) -> dict[str, str]:
    """Subject -> schema name, from the catalog's topics (TopicNameStrategy)."""
    catalog = load_catalog(schemas_dir / "catalog.yaml", repository)
    return {r.subject: r.schema_name for r in catalog.resources}


def _registered_id(client: Any, subject: str, version: SchemaVersion) -> int | None:
    from confluent_kafka.schema_registry import Schema
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    try:
        found = client.lookup_schema(subject, Schema(version.canonical, "AVRO"))
    except SchemaRegistryError as exc:
        if exc.error_code in (_SCHEMA_NOT_FOUND, _SUBJECT_NOT_FOUND):
            return None
        raise
    return int(found.schema_id)


def push_schemas(schemas_dir: Path, url: str, auth: str | None = None) -> list[PushedVersion]:
    """Register every version of every subject in order; raises before writing on any problem."""
    from confluent_kafka.schema_registry import Schema
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    report = check_schemas_dir(schemas_dir)
    if not report.ok:
        raise GovbusError(
            ErrorCode.INCOMPATIBLE_SCHEMA,
            f"{schemas_dir}: the compatibility gate failed; nothing was registered",
            details={"problems": report.problems},
        )
    repository = SchemaRepository(schemas_dir / "avro")
    levels = schema_levels(load_catalog(schemas_dir / "catalog.yaml", repository))
    client = _client(url, auth)
    plan: list[tuple[str, SchemaVersion, int | None]] = []
    try:
        for subject, name in sorted(_subjects(schemas_dir, repository).items()):
            pending_seen = False
            for version in repository.versions(name):
                existing = _registered_id(client, subject, version)
                plan.append((subject, version, existing))
                if existing is None and not pending_seen:
                    pending_seen = True
                    _check_remote(client, subject, version)
        pushed: list[PushedVersion] = []
        configured: set[str] = set()
        for subject, version, existing in plan:
            if subject not in configured:
                client.set_compatibility(subject, str(level_for(levels, version.name)))
                configured.add(subject)
            schema_id = existing
            if schema_id is None:
                schema_id = client.register_schema(subject, Schema(version.canonical, "AVRO"))
            pushed.append(
                PushedVersion(
                    subject=subject,
                    file=f"{version.name}/{version.path.name}",
                    schema_id=int(schema_id),
                    already_registered=existing is not None,
                )
            )
    except SchemaRegistryError as exc:
        codes = {409: ErrorCode.INCOMPATIBLE_SCHEMA, 422: ErrorCode.INVALID_SCHEMA}
        raise GovbusError(
            codes.get(exc.http_status_code, ErrorCode.REGISTRY_ERROR),
            f"registry {url} refused: {exc.error_message} (error {exc.error_code})",
        ) from exc
    return pushed


def _check_remote(client: Any, subject: str, version: SchemaVersion) -> None:
    from confluent_kafka.schema_registry import Schema
    from confluent_kafka.schema_registry.error import SchemaRegistryError

    try:
        compatible = client.test_compatibility(subject, Schema(version.canonical, "AVRO"))
    except SchemaRegistryError as exc:
        if exc.error_code == _SUBJECT_NOT_FOUND:
            return
        raise
    if not compatible:
        raise GovbusError(
            ErrorCode.INCOMPATIBLE_SCHEMA,
            f"{version.name}/{version.path.name}: incompatible with what subject {subject} "
            "already holds in the registry; nothing was registered",
        )
