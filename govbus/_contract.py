"""The contract, loaded once: catalog, schemas, and the codec between events and bytes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any

from govbus._avro_reader import compile_reader
from govbus._catalog import Catalog, EntityKind, Resource, load_catalog
from govbus._changes import EVENT_TYPES, ChangeEvent
from govbus._envelope import header_template
from govbus._errors import ErrorCode, GovbusError
from govbus._event_builder import compile_builder
from govbus._identifiers import Pseudonymizer
from govbus._native import native_built, native_pseudonymizer, native_record_maker
from govbus._schemas import SchemaRepository, SchemaVersion
from govbus._serde import (
    WIRE_HEADER_SIZE,
    SchemaResolver,
    decode_confluent,
    encode_confluent,
    end_of_body,
    make_schema_resolver,
    read_schema_id,
    wire_header,
)
from govbus._settings import Settings


@dataclass
class Contract:
    catalog: Catalog
    schemas: SchemaRepository
    resolver: SchemaResolver
    pseudonym_key: bytes
    native: bool = False
    """Use the native hot paths (`govbus._native`): `Settings.native`, where built."""
    _decoders: dict[tuple[str, bytes], Decoder] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @cached_property
    def _pseudonymizer(self) -> Callable[[str], str]:
        native = native_pseudonymizer(self.pseudonym_key) if self.native else None
        return native or Pseudonymizer(self.pseudonym_key)

    def latest_schema(self, resource: Resource) -> SchemaVersion:
        return self.schemas.latest(resource.schema_name)

    def encode(
        self, resource: Resource, event: ChangeEvent[Any], *, event_id: str | None = None
    ) -> bytes:
        version = self.latest_schema(resource)
        schema_id = self.resolver.id_for(resource.subject, version)
        native = version.native_encoder if self.native else None
        if native is not None:  # reads the model itself: no Avro dict is built
            encoded: bytes = native.encode(event, wire_header(schema_id))
            return encoded
        record = event.to_avro(event_id)
        if version.writer is not None:
            return encode_confluent(schema_id, version.parsed, record, version.writer)
        if record["data"] is not None:
            # Name the union branch: fastavro then skips trying each branch (~35% faster),
            # and the bytes are the same.
            record["data"] = (data_record_name(version), record["data"])
        return encode_confluent(schema_id, version.parsed, record)

    def decode(self, topic: str, payload: bytes) -> ChangeEvent[Any]:
        """Bytes from `topic` to a typed event; raises GovbusError with the reason.

        The checks up to the Avro body (topic, wire header, schema id, writer schema for
        this topic) run once per (topic, header); their outcome, a decoder generated for
        that writer and reader schema, is kept. Failures are never kept.
        """
        decoder = self._decoders.get((topic, payload[:WIRE_HEADER_SIZE]))
        if decoder is None:
            decoder = self._decoder(topic, payload)
        return decoder(payload)

    def _decoder(self, topic: str, payload: bytes) -> Decoder:
        resources = self.catalog.resources_on_topic(topic)
        if not resources:
            raise GovbusError(ErrorCode.UNKNOWN_RESOURCE, f"topic {topic} is not in the catalog")
        reader = self.latest_schema(resources[0]).parsed
        writer = self.resolver.schema_for_id(read_schema_id(payload))
        if writer.get("name") != reader.get("name"):
            raise GovbusError(
                ErrorCode.WRONG_TOPIC,
                f"a {writer.get('name')} record on topic {topic}, "
                f"which carries {reader.get('name')}",
            )
        event_cls = EVENT_TYPES[resources[0].entity]
        decoder = _make_decoder(writer, reader, event_cls)
        if len(self._decoders) < _MAX_DECODERS:
            self._decoders[(topic, payload[:WIRE_HEADER_SIZE])] = decoder
        return decoder

    def record_maker(self, resource: Resource, department: str) -> Any | None:
        """A native `RecordMaker` for one department's records of `resource`: its
        `make(event, traceparent)` gives (event id, key, value, headers, size), what
        `encode`, `record_key` and `cloudevent_headers` give, in one call. None where
        the native paths are off or do not cover the schema."""
        if not self.native:
            return None
        version = self.latest_schema(resource)
        return native_record_maker(
            version.native_encoder,
            wire_header(self.resolver.id_for(resource.subject, version)),
            self.pseudonym_key if resource.entity is EntityKind.PERSON else None,
            header_template(department, resource.entity),
        )

    def record_key(self, event: ChangeEvent[Any]) -> bytes:
        """Kafka key: the entity key, or a keyed pseudonym for persons (see docs/events.md)."""
        if event.entity is EntityKind.PERSON:
            return self._pseudonymizer(event.entity_key).encode()
        return event.entity_key.encode()


Decoder = Callable[[bytes], ChangeEvent[Any]]
_MAX_DECODERS = 1024  # (topic, schema id) pairs that passed; more are rebuilt per record


def _make_decoder(writer: Any, reader: Any, event_cls: type[ChangeEvent[Any]]) -> Decoder:
    """Payload → event for one writer schema on one topic: generated reader and builder
    where they apply, fastavro and pydantic where they do not. Same checks either way."""
    read = compile_reader(writer, reader)
    build = compile_builder(event_cls, reader) or event_cls.from_avro

    if read is None:

        def decode_with_fastavro(payload: bytes) -> ChangeEvent[Any]:
            return build(decode_confluent(payload, writer, reader))

        return decode_with_fastavro

    def decode(payload: bytes) -> ChangeEvent[Any]:
        try:
            record, end = read(payload, WIRE_HEADER_SIZE)
        except (EOFError, ValueError, TypeError, IndexError) as exc:
            raise GovbusError(
                ErrorCode.MALFORMED_PAYLOAD, f"Avro body does not match its schema: {exc}"
            ) from exc
        if end != len(payload):
            raise end_of_body(payload, end)
        return build(record)

    return decode


@lru_cache(maxsize=64)
def data_record_name(version: SchemaVersion) -> str:
    """Full name of the record in the nullable `data` union of a change-event schema."""
    for fld in version.definition["fields"]:
        if fld["name"] == "data":
            record = next(t for t in fld["type"] if isinstance(t, dict))
            name = str(record["name"])
            namespace = record.get("namespace") or version.definition.get("namespace")
            return name if "." in name or not namespace else f"{namespace}.{name}"
    raise GovbusError(ErrorCode.INVALID_SCHEMA, f"{version.name} has no data field")


def load_contract(settings: Settings) -> Contract:
    native = settings.native and native_built()
    schemas = SchemaRepository(settings.schemas_dir / "avro", native=native)
    catalog = load_catalog(settings.schemas_dir / "catalog.yaml", schemas)
    auth = (
        settings.schema_registry_auth.get_secret_value() if settings.schema_registry_auth else None
    )
    return Contract(
        catalog=catalog,
        schemas=schemas,
        resolver=make_schema_resolver(schemas, settings.schema_registry_url, auth),
        pseudonym_key=settings.pseudonym_key.get_secret_value().encode(),
        native=native,
    )
