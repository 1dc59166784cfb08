"""Registry rules: what a valid schema is, when two are the same, and compatibility."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import fastavro
from fastavro.schema import SchemaParseException

from govbus import (
    CompatibilityLevel,
    SchemaDefinitionError,
    check_compatibility,
    normalise,
)
from govbus.gateway.registry import _codes
from govbus.gateway.registry._store import GLOBAL, RegistryStore, SubjectVersion

DEFAULT_COMPATIBILITY = CompatibilityLevel.BACKWARD  # Confluent's default
_MAX_VERSION = 2**31 - 1


def parse_schema_text(subject: str, text: str, schema_type: str) -> Any:
    """The schema as JSON, or 42201 naming the subject and what is wrong."""
    if schema_type.upper() != "AVRO":
        raise _codes.invalid_schema(subject, f"schema type {schema_type[:20]!r} is not supported")
    try:
        definition = json.loads(text)
        fastavro.parse_schema(definition, _write_hint=False)
        normalise(definition)
    except json.JSONDecodeError as exc:
        raise _codes.invalid_schema(subject, f"not JSON ({exc.msg} at line {exc.lineno})") from exc
    except RecursionError:  # `[[[[...` thousands deep: the JSON or Avro parser gives up
        raise _codes.invalid_schema(subject, "nested too deeply") from None
    except (SchemaParseException, SchemaDefinitionError, KeyError, TypeError, ValueError) as exc:
        raise _codes.invalid_schema(subject, f"not a valid Avro schema: {exc}") from exc
    return definition


def fingerprint(definition: Any) -> str:
    """Same schema, same id: independent of whitespace and of key order within objects."""
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse_version(raw: str) -> int | None:
    """A version number, None for `latest` (or -1), or 42202."""
    if raw == "latest" or raw == "-1":
        return None
    if raw.isdigit() and 1 <= int(raw) <= _MAX_VERSION:
        return int(raw)
    raise _codes.invalid_version(raw)


def parse_level(raw: str) -> CompatibilityLevel:
    try:
        return CompatibilityLevel(raw.upper())
    except ValueError:
        raise _codes.invalid_level(raw) from None


def non_transitive(level: CompatibilityLevel) -> CompatibilityLevel:
    """The level's direction alone, for checks against one chosen version."""
    return CompatibilityLevel(level.removesuffix("_TRANSITIVE"))


def effective_level(store: RegistryStore, subject: str) -> CompatibilityLevel:
    level = store.compatibility(subject) or store.compatibility(GLOBAL)
    return CompatibilityLevel(level) if level else DEFAULT_COMPATIBILITY


def find_version(store: RegistryStore, subject: str, raw_version: str) -> SubjectVersion:
    number = parse_version(raw_version)
    versions = store.versions(subject)
    if not versions:
        raise _codes.subject_not_found(subject)
    if number is None:
        return versions[-1]
    for version in versions:
        if version.version == number:
            return version
    raise _codes.version_not_found(subject, number)


def incompatibilities(
    candidate: Any, against: list[SubjectVersion], level: CompatibilityLevel
) -> list[str]:
    previous = [(f"version {v.version}", json.loads(v.schema_text)) for v in against]
    found = check_compatibility(candidate, previous, level, candidate_label="the new schema")
    return [str(problem) for problem in found]


def register(store: RegistryStore, subject: str, text: str, schema_type: str) -> SubjectVersion:
    """Register under `subject`, enforcing its compatibility level; 409 stores nothing."""
    definition = parse_schema_text(subject, text, schema_type)
    level = effective_level(store, subject)

    def check(existing: list[SubjectVersion]) -> None:
        problems = incompatibilities(definition, existing, level)
        if problems:
            raise _codes.incompatible(subject, problems)

    return store.register(subject, fingerprint(definition), text.strip(), check)


def lookup(store: RegistryStore, subject: str, text: str, schema_type: str) -> SubjectVersion:
    definition = parse_schema_text(subject, text, schema_type)
    versions = store.versions(subject)
    if not versions:
        raise _codes.subject_not_found(subject)
    wanted = fingerprint(definition)
    for version in versions:
        if fingerprint(json.loads(version.schema_text)) == wanted:
            return version
    raise _codes.schema_not_found(f"for subject '{subject}'")
