"""The Avro schemas in `schemas/avro/<name>/v<N>.avsc`, loaded and parsed once."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import SchemaParseException

from govbus._avro_writer import Write, compile_writer
from govbus._errors import ErrorCode, GovbusError
from govbus._native import compile_native_encoder

_VERSION_FILE = re.compile(r"^v(\d+)\.avsc$")


@dataclass(frozen=True)
class SchemaVersion:
    name: str
    version: int
    path: Path
    definition: dict[str, Any] = field(repr=False, compare=False)
    native: bool = field(default=False, repr=False, compare=False)

    @cached_property
    def parsed(self) -> Any:
        return fastavro.parse_schema(self.definition)

    @cached_property
    def writer(self) -> Write | None:
        """A compiled Avro writer for this schema, or None where fastavro must encode."""
        return compile_writer(self.definition)

    @cached_property
    def native_encoder(self) -> Any | None:
        """The native `AvroEncoder` for this schema (models or dicts), or None (Python)."""
        return compile_native_encoder(self.definition) if self.native else None

    @cached_property
    def canonical(self) -> str:
        """Compact JSON text, as registered with a schema registry."""
        return json.dumps(self.definition, separators=(",", ":"), ensure_ascii=False)

    def data_field_names(self) -> list[str]:
        """Names of the fields in the nullable `data` record of a change event."""
        for fld in self.definition["fields"]:
            if fld["name"] == "data":
                record = next(t for t in fld["type"] if isinstance(t, dict))
                return [f["name"] for f in record["fields"]]
        return []


def read_schema_file(path: Path) -> dict[str, Any]:
    """Parse one .avsc file; errors name the file."""
    try:
        definition: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        fastavro.parse_schema(definition, _write_hint=False)
    except (json.JSONDecodeError, SchemaParseException, KeyError, TypeError, ValueError) as exc:
        raise GovbusError(
            ErrorCode.INVALID_SCHEMA, f"{path}: not a valid Avro schema: {exc}"
        ) from exc
    return definition


class SchemaRepository:
    """All versions of all schemas under one directory."""

    def __init__(self, avro_dir: Path, *, native: bool = False) -> None:
        """`native`: give the versions native encoders (see `govbus._native`)."""
        self.avro_dir = avro_dir
        self._versions: dict[str, list[SchemaVersion]] = {}
        for schema_dir in sorted(p for p in avro_dir.iterdir() if p.is_dir()):
            versions = []
            for path in schema_dir.iterdir():
                match = _VERSION_FILE.match(path.name)
                if match:
                    versions.append(
                        SchemaVersion(
                            schema_dir.name,
                            int(match.group(1)),
                            path,
                            read_schema_file(path),
                            native=native,
                        )
                    )
            versions.sort(key=lambda v: v.version)
            if versions:
                self._versions[schema_dir.name] = versions

    def names(self) -> list[str]:
        return sorted(self._versions)

    def versions(self, name: str) -> list[SchemaVersion]:
        try:
            return self._versions[name]
        except KeyError:
            raise GovbusError(
                ErrorCode.UNKNOWN_SCHEMA, f"no schema named {name!r} in {self.avro_dir}"
            ) from None

    def latest(self, name: str) -> SchemaVersion:
        return self.versions(name)[-1]
