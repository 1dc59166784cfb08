"""Registry rules: what a valid schema is, when two are the same, and compatibility."""

from __future__ import annotations

import hashlib
import json
import unicodedata
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
_MAX_SUBJECT = 255
# Unicode categories refused in a subject: control, format (zero-width, bidi), surrogate,
# private use, unassigned, line and paragraph separators. They make names look alike.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


def subject_name(raw: str) -> str:
    """The subject in NFC, so names that look the same are the same; or 42208."""
    name = unicodedata.normalize("NFC", raw)
    if not 0 < len(name) <= _MAX_SUBJECT or any(
        unicodedata.category(c) in _REFUSED_CATEGORIES for c in name
    ):
        raise _codes.invalid_subject()
    return name


def parse_schema_text(text: str, schema_type: str) -> Any:
    """The schema as JSON, or 42201 naming what is wrong."""
    if schema_type.upper() != "AVRO":
        raise _codes.invalid_schema("only schema type AVRO is supported")
    try:
        definition = json.loads(text)
        fastavro.parse_schema(definition, _write_hint=False)
        normalise(definition)
    except json.JSONDecodeError as exc:
        raise _codes.invalid_schema(f"not JSON ({exc.msg} at line {exc.lineno})") from exc
    except RecursionError:  # `[[[[...` thousands deep: the JSON or Avro parser gives up
        raise _codes.invalid_schema("nested too deeply") from None
    except (SchemaParseException, SchemaDefinitionError, KeyError, TypeError, ValueError) as exc:
        raise _codes.invalid_schema(f"not a valid Avro schema: {exc}") from exc
    return definition


def fingerprint(definition: Any) -> str:
    """Same schema, same id: independent of whitespace and of key order within objects."""
    canonical = json.dumps(definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def parse_version(raw: str) -> int | None:
    """A version number, None for `latest` (or -1), or 42202.

    ASCII digits only: `str.isdigit` and `int` also take "²" and Arabic-Indic "١", and
    `int` refuses more than 4300 digits with a ValueError, so the length is checked first.
    """
    if raw == "latest" or raw == "-1":
        return None
    if 0 < len(raw) <= 10 and all("0" <= c <= "9" for c in raw) and 1 <= int(raw) <= _MAX_VERSION:
        return int(raw)
    raise _codes.invalid_version()


def parse_level(raw: str) -> CompatibilityLevel:
    try:
        return CompatibilityLevel(raw.upper())
    except ValueError:
        raise _codes.invalid_level([str(level) for level in CompatibilityLevel]) from None


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
        raise _codes.subject_not_found()
    if number is None:
        return versions[-1]
    for version in versions:
        if version.version == number:
            return version
    raise _codes.version_not_found()


def incompatibilities(
    candidate: Any, against: list[SubjectVersion], level: CompatibilityLevel
) -> list[str]:
    previous = [(f"version {v.version}", json.loads(v.schema_text)) for v in against]
    found = check_compatibility(candidate, previous, level, candidate_label="the new schema")
    return [str(problem) for problem in found]


def register(store: RegistryStore, subject: str, text: str, schema_type: str) -> SubjectVersion:
    """Register under `subject`, enforcing its compatibility level; 409 stores nothing."""
    definition = parse_schema_text(text, schema_type)
    level = effective_level(store, subject)

    def check(existing: list[SubjectVersion]) -> None:
        problems = incompatibilities(definition, existing, level)
        if problems:
            raise _codes.incompatible(problems)

    return store.register(subject, fingerprint(definition), text.strip(), check)


def lookup(store: RegistryStore, subject: str, text: str, schema_type: str) -> SubjectVersion:
    definition = parse_schema_text(text, schema_type)
    versions = store.versions(subject)
    if not versions:
        raise _codes.subject_not_found()
    wanted = fingerprint(definition)
    for version in versions:
        if fingerprint(json.loads(version.schema_text)) == wanted:
            return version
    raise _codes.schema_not_found("for this subject")
