"""Confluent wire format: magic byte 0, a big-endian 4-byte schema id, then the Avro body.

Any Confluent deserializer (Java, Go, .NET) reads what this writes, and this reads theirs.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Protocol

import fastavro
from fastavro.schema import SchemaParseException

from govbus._avro_writer import Write
from govbus._errors import ErrorCode, GovbusError
from govbus._schemas import SchemaRepository, SchemaVersion

MAGIC_BYTE = 0
_HEADER = struct.Struct(">bI")
WIRE_HEADER_SIZE = _HEADER.size


class SchemaResolver(Protocol):
    """Maps schema versions to registry ids and back."""

    def id_for(self, subject: str, version: SchemaVersion) -> int: ...

    def schema_for_id(self, schema_id: int) -> Any:
        """The parsed writer schema for an id; raises UNKNOWN_SCHEMA."""
        ...


class LocalSchemaResolver:
    """Embedded mode: ids derived from the local schemas directory, no registry needed.

    Ids are stable for a given directory: schemas in name order, versions in order.
    """

    def __init__(self, repository: SchemaRepository) -> None:
        self._by_id: dict[int, SchemaVersion] = {}
        self._ids: dict[tuple[str, int], int] = {}
        next_id = 1
        for name in repository.names():
            for version in repository.versions(name):
                self._by_id[next_id] = version
                self._ids[(name, version.version)] = next_id
                next_id += 1

    def id_for(self, subject: str, version: SchemaVersion) -> int:
        return self._ids[(version.name, version.version)]

    def schema_for_id(self, schema_id: int) -> Any:
        try:
            return self._by_id[schema_id].parsed
        except KeyError:
            raise GovbusError(
                ErrorCode.UNKNOWN_SCHEMA, f"schema id {schema_id} is not known"
            ) from None


class RegistrySchemaResolver:
    """Ids from a Confluent-compatible schema registry (govbus's own or Confluent's)."""

    def __init__(self, url: str, *, auth: str | None = None) -> None:
        from confluent_kafka.schema_registry import SchemaRegistryClient

        conf: dict[str, Any] = {"url": url}
        if auth:
            conf["basic.auth.user.info"] = auth
        self._client = SchemaRegistryClient(conf)
        self._ids: dict[tuple[str, str, int], int] = {}
        self._parsed: dict[int, Any] = {}

    def id_for(self, subject: str, version: SchemaVersion) -> int:
        from confluent_kafka.schema_registry import Schema
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        cache_key = (subject, version.name, version.version)
        if cache_key not in self._ids:
            try:
                registered = self._client.lookup_schema(subject, Schema(version.canonical, "AVRO"))
            except SchemaRegistryError as exc:
                raise GovbusError(
                    ErrorCode.UNKNOWN_SCHEMA,
                    f"{version.path.name} of {version.name} is not registered under "
                    f"subject {subject}: {exc.error_message}",
                ) from exc
            if registered.schema_id is None:
                raise GovbusError(ErrorCode.UNKNOWN_SCHEMA, f"registry gave no id for {subject}")
            self._ids[cache_key] = registered.schema_id
        return self._ids[cache_key]

    def schema_for_id(self, schema_id: int) -> Any:
        from confluent_kafka.schema_registry.error import SchemaRegistryError

        if schema_id not in self._parsed:
            try:
                schema = self._client.get_schema(schema_id)
                self._parsed[schema_id] = fastavro.parse_schema(
                    json.loads(schema.schema_str or "null")
                )
            except SchemaRegistryError as exc:
                raise GovbusError(
                    ErrorCode.UNKNOWN_SCHEMA, f"schema id {schema_id}: {exc.error_message}"
                ) from exc
        return self._parsed[schema_id]


@lru_cache(maxsize=1024)
def wire_header(schema_id: int) -> bytes:
    """The five bytes before every Avro body: magic byte and schema id."""
    return _HEADER.pack(MAGIC_BYTE, schema_id)


def encode_confluent(
    schema_id: int, parsed_schema: Any, record: dict[str, Any], writer: Write | None = None
) -> bytes:
    """Wire header plus Avro body; `writer` (compiled for the same schema) skips fastavro."""
    if writer is not None:
        body = bytearray(_HEADER.pack(MAGIC_BYTE, schema_id))
        writer(body, record)
        return bytes(body)
    out = io.BytesIO()
    out.write(_HEADER.pack(MAGIC_BYTE, schema_id))
    fastavro.schemaless_writer(out, parsed_schema, record)
    return out.getvalue()


def read_schema_id(payload: bytes) -> int:
    """The schema id of a wire-format payload; raises MALFORMED_PAYLOAD."""
    if len(payload) < _HEADER.size:
        raise GovbusError(
            ErrorCode.MALFORMED_PAYLOAD, f"payload of {len(payload)} bytes has no wire header"
        )
    magic, schema_id = _HEADER.unpack_from(payload)
    if magic != MAGIC_BYTE:
        raise GovbusError(ErrorCode.MALFORMED_PAYLOAD, f"unknown magic byte {magic}")
    return int(schema_id)


def decode_confluent(
    payload: bytes, writer_schema: Any, reader_schema: Any | None = None
) -> dict[str, Any]:
    """Decode a wire-format payload, resolving the writer schema to the reader's."""
    body = io.BytesIO(payload)
    body.seek(_HEADER.size)
    try:
        record = fastavro.schemaless_reader(body, writer_schema, reader_schema or writer_schema)
    except (EOFError, SchemaParseException, ValueError, TypeError, IndexError) as exc:
        raise GovbusError(
            ErrorCode.MALFORMED_PAYLOAD, f"Avro body does not match its schema: {exc}"
        ) from exc
    if not isinstance(record, dict):
        raise GovbusError(ErrorCode.MALFORMED_PAYLOAD, "Avro body is not a record")
    if body.tell() != len(payload):
        raise end_of_body(payload, body.tell())
    return record


def end_of_body(payload: bytes, end: int) -> GovbusError:
    """The error for a payload with bytes left after its Avro body ended at `end`."""
    return GovbusError(
        ErrorCode.MALFORMED_PAYLOAD, f"{len(payload) - end} trailing bytes after the Avro body"
    )


def make_schema_resolver(
    repository: SchemaRepository, registry_url: str | None, auth: str | None = None
) -> SchemaResolver:
    if registry_url:
        return RegistrySchemaResolver(registry_url, auth=auth)
    return LocalSchemaResolver(repository)


Encoder = Callable[[dict[str, Any]], bytes]
