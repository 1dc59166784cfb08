"""The catalog of information resources (政务信息资源目录) and its validation."""

from __future__ import annotations

import re
from collections.abc import Collection
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from govbus._catalog_metadata import CoreMetadata
from govbus._errors import ErrorCode, GovbusError
from govbus._identifiers import mask
from govbus._schemas import SchemaRepository


class SharingType(StrEnum):
    UNCONDITIONAL = "unconditional"
    CONDITIONAL = "conditional"
    NOT_SHARED = "not_shared"


class Sensitivity(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"
    PERSONAL = "personal"
    SENSITIVE = "sensitive"


class EntityKind(StrEnum):
    PERSON = "person"
    LEGAL_ENTITY = "legal_entity"
    CERTIFICATE = "certificate"


class MaskRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    keep: tuple[int, int] | None = None

    def apply(self, value: str) -> str:
        if self.keep is None:
            return "*" * len(value)
        return mask(value, *self.keep)


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Department(_Frozen):
    code: str
    name: str
    role: Literal["department", "platform", "external"] = "department"


class FieldSpec(_Frozen):
    name: str
    authority: str
    sharing: SharingType
    sensitivity: Sensitivity = Sensitivity.INTERNAL
    mask: MaskRule | None = None

    @model_validator(mode="before")
    @classmethod
    def _one_authority(cls, raw: object) -> object:
        if isinstance(raw, dict) and isinstance(raw.get("authority"), list):
            raise ValueError(
                f"field {raw.get('name')!r} names {len(raw['authority'])} authorities; "
                "exactly one department may be the source of a field (一数一源)"
            )
        return raw


class Resource(_Frozen):
    code: str
    name: str
    entity: EntityKind
    topic: str
    schema_name: str
    compatibility: Literal["BACKWARD_TRANSITIVE", "FULL_TRANSITIVE"] = "BACKWARD_TRANSITIVE"
    update_cycle: Literal["realtime", "hourly", "daily", "weekly", "monthly", "yearly"]
    description: str
    licence_type_code: str | None = None
    key: FieldSpec
    fields: tuple[FieldSpec, ...]
    # The department that decides subscription requests (default: the key's authority).
    provider: str
    metadata: CoreMetadata  # GB/T 21063.3 core metadata, beside name, description, provider

    @model_validator(mode="before")
    @classmethod
    def _rename_schema(cls, raw: object) -> object:
        # `schema` shadows a BaseModel attribute, so the YAML key is mapped here.
        if isinstance(raw, dict) and "schema" in raw:
            raw = {**raw, "schema_name": raw["schema"]}
            del raw["schema"]
        if isinstance(raw, dict) and "provider" not in raw and isinstance(raw.get("key"), dict):
            raw = {**raw, "provider": raw["key"].get("authority")}
        return raw

    @property
    def subject(self) -> str:
        """Schema-registry subject under Confluent's TopicNameStrategy."""
        return f"{self.topic}-value"

    @cached_property
    def fields_by_name(self) -> dict[str, FieldSpec]:
        return {f.name: f for f in self.fields}

    @cached_property
    def _fields_by_authority(self) -> dict[str, frozenset[str]]:
        by_authority: dict[str, set[str]] = {}
        for spec in self.fields:
            by_authority.setdefault(spec.authority, set()).add(spec.name)
        return {code: frozenset(names) for code, names in by_authority.items()}

    def fields_sourced_from(self, department: str) -> frozenset[str]:
        """The names of the fields `department` is the authoritative source of."""
        return self._fields_by_authority.get(department, frozenset())

    def field(self, name: str) -> FieldSpec:
        try:
            return self.fields_by_name[name]
        except KeyError:
            raise GovbusError(
                ErrorCode.UNKNOWN_FIELD,
                f"resource {self.code} has no field {name!r}",
                field=name,
            ) from None


class Catalog(_Frozen):
    departments: tuple[Department, ...]
    resources: tuple[Resource, ...]

    @model_validator(mode="after")
    def _references_known(self) -> Catalog:
        problems = catalog_reference_problems(self)
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @cached_property
    def departments_by_code(self) -> dict[str, Department]:
        return {d.code: d for d in self.departments}

    @cached_property
    def resources_by_code(self) -> dict[str, Resource]:
        return {r.code: r for r in self.resources}

    def department(self, code: str) -> Department:
        try:
            return self.departments_by_code[code]
        except KeyError:
            raise GovbusError(
                ErrorCode.UNKNOWN_DEPARTMENT,
                unknown_code_message("department", code, self.departments_by_code),
            ) from None

    def resource(self, code: str) -> Resource:
        try:
            return self.resources_by_code[code]
        except KeyError:
            raise GovbusError(
                ErrorCode.UNKNOWN_RESOURCE,
                unknown_code_message("resource", code, self.resources_by_code),
            ) from None

    def department_code(self, typed: str) -> str:
        """The department an operator typed (a command-line flag): any case; an unknown
        code is echoed as typed, with the valid ones. Not for codes inside records."""
        return _operator_code("department", typed, self.departments_by_code)

    def resource_code(self, typed: str) -> str:
        """As `department_code`, for a resource code (BR-PERSON, br-person)."""
        return _operator_code("resource", typed, self.resources_by_code)

    def resources_on_topic(self, topic: str) -> list[Resource]:
        return [r for r in self.resources if r.topic == topic]

    def topics(self) -> list[str]:
        return sorted({r.topic for r in self.resources})

    @cached_property
    def _resources_by_entity(self) -> dict[tuple[EntityKind, str | None], Resource]:
        index: dict[tuple[EntityKind, str | None], Resource] = {}
        for r in self.resources:  # the first match wins, as in the scan below
            licence = r.licence_type_code if r.entity is EntityKind.CERTIFICATE else None
            index.setdefault((r.entity, licence), r)
        return index

    def resource_for_entity(self, entity: EntityKind, licence_type_code: str | None) -> Resource:
        """The resource an event belongs to; certificates are told apart by licence type."""
        key = (entity, licence_type_code if entity is EntityKind.CERTIFICATE else None)
        found = self._resources_by_entity.get(key)
        if found is not None:
            return found
        for r in self.resources:
            if r.entity is entity and (
                entity is not EntityKind.CERTIFICATE or r.licence_type_code == licence_type_code
            ):
                return r
        if licence_type_code is None:
            raise GovbusError(
                ErrorCode.UNKNOWN_RESOURCE, f"no resource in the catalog for {entity}"
            )
        # The licence type is the part of entity_key before ':'; a key without one (say, an
        # identity number sent as a certificate key) is all licence type: never echo it.
        raise GovbusError(
            ErrorCode.UNKNOWN_RESOURCE,
            f"no resource in the catalog for the licence type of this {entity}'s entity_key "
            "(<licence type code>:<licence number>)",
            field="entity_key",
        )

    def check_against(self, schemas: SchemaRepository, source: str = "catalog") -> None:
        """Cross-checks the models cannot do alone; raises INVALID_CATALOG naming the field."""
        problems: list[str] = []
        topic_schema: dict[str, str] = {}
        for r in self.resources:
            previous = topic_schema.setdefault(r.topic, r.schema_name)
            if previous != r.schema_name:
                problems.append(
                    f"{r.code}: topic {r.topic} already carries schema {previous}, "
                    f"not {r.schema_name}"
                )
            try:
                schema_fields = set(schemas.latest(r.schema_name).data_field_names())
            except GovbusError:
                problems.append(f"{r.code}: topic {r.topic} has no schema {r.schema_name!r}")
                continue
            seen: set[str] = set()
            for f in (r.key, *r.fields):
                if f.authority not in self.departments_by_code:
                    problems.append(
                        f"{r.code}.{f.name}: authority {f.authority!r} is not a department"
                    )
                if f is r.key:
                    continue
                if f.name in seen:
                    problems.append(f"{r.code}.{f.name}: listed twice (one source per field)")
                seen.add(f.name)
                if f.name not in schema_fields:
                    problems.append(
                        f"{r.code}.{f.name}: not a field of schema {r.schema_name} "
                        f"(latest v{schemas.latest(r.schema_name).version})"
                    )
            missing = schema_fields - seen
            if missing:
                problems.append(
                    f"{r.code}: schema fields with no authority: {', '.join(sorted(missing))}"
                )
        if problems:
            raise GovbusError(
                ErrorCode.INVALID_CATALOG,
                f"{source}: " + "; ".join(problems),
                details={"problems": problems},
            )


def catalog_reference_problems(catalog: Catalog) -> list[str]:
    """Departments named by the metadata exist; identifiers are unique; services match."""
    problems: list[str] = []
    departments = {d.code for d in catalog.departments}
    seen: dict[str, dict[str, str]] = {"resource_id": {}, "metadata_id": {}}
    for r in catalog.resources:
        where = f"resources[{r.code}]"
        if r.provider not in departments:
            problems.append(f"{where}.provider: {shown_code(r.provider)} is not a department")
        if r.metadata.maintainer not in departments:
            problems.append(
                f"{where}.metadata.maintainer: {shown_code(r.metadata.maintainer)} "
                "is not a department"
            )
        for element in ("resource_id", "metadata_id"):
            value = getattr(r.metadata, element)
            first = seen[element].setdefault(value, r.code)
            if first != r.code:
                problems.append(f"{where}.metadata.{element}: {value!r} is already {first}'s")
        for service in r.metadata.services:
            if service.delivery == "kafka" and service.address != r.topic:
                problems.append(
                    f"{where}.metadata.services[kafka].address: {service.address!r} "
                    f"is not the resource's topic {r.topic}"
                )
    return problems


_CODE_SHAPE = re.compile(r"[A-Z][A-Z0-9_-]{0,39}")


def shown_code(value: str) -> str:
    """A catalog code as given, quoted, if it is shaped like one (BR-PERSON, PSB).

    Codes come from callers and records: anything else (an identity number or a name put
    in the wrong place) is not echoed into error messages.
    """
    return repr(value) if _CODE_SHAPE.fullmatch(value) else "(a value not shaped like a code)"


def unknown_code_message(kind: str, given: str, known: Collection[str]) -> str:
    """`no department 'XYZ' in the catalog (valid: AMR, CAB, …)`; a code in the wrong case
    gets the right one. A value not shaped like a code is not echoed (`shown_code`)."""
    valid = ", ".join(sorted(known))
    upper = given.strip().upper()
    if upper in known:
        return f"no {kind} {given!r} in the catalog: codes are upper case, use {upper!r}"
    if _CODE_SHAPE.fullmatch(given):
        return f"no {kind} {given!r} in the catalog (valid: {valid})"
    return f"the {kind} given is not a catalog code, so it is not shown (valid: {valid})"


def _operator_code(kind: str, typed: str, known: Collection[str]) -> str:
    code = typed.strip().upper()
    if code in known:
        return code
    valid = ", ".join(sorted(known))
    code_for = ErrorCode.UNKNOWN_DEPARTMENT if kind == "department" else ErrorCode.UNKNOWN_RESOURCE
    raise GovbusError(code_for, f"no {kind} {typed!r} in the catalog (valid: {valid})")


def _readable_loc(raw: object, loc: tuple[int | str, ...]) -> str:
    """`resources[BR-PERSON].fields[phone].authority` rather than `resources.0.fields.9...`."""
    out: list[str] = []
    node = raw
    for part in loc:
        if isinstance(part, int) and isinstance(node, list) and part < len(node):
            node = node[part]
            label = node.get("code") or node.get("name") if isinstance(node, dict) else None
            out[-1:] = [f"{out[-1] if out else ''}[{label if label else part}]"]
            continue
        node = node.get(part) if isinstance(node, dict) else None
        out.append(str(part))
    return ".".join(out)


class _CatalogLoader(yaml.SafeLoader):
    """SafeLoader with dates left as text: pydantic parses them and names the element when
    one is wrong (PyYAML's own 2026-02-30 is a bare ValueError, naming nothing)."""


_CatalogLoader.yaml_implicit_resolvers = {
    first: [(tag, regex) for tag, regex in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _problem(raw: object, loc: tuple[int | str, ...], message: str) -> str:
    message = message.removeprefix("Value error, ")
    # A whole-catalog check names its resources and elements itself.
    return f"{_readable_loc(raw, loc)}: {message}" if loc else message


def load_catalog(path: Path, schemas: SchemaRepository | None = None) -> Catalog:
    """Load and validate the catalog; with `schemas`, also check it against them."""
    try:
        raw = yaml.load(path.read_text(encoding="utf-8"), Loader=_CatalogLoader)
    except yaml.YAMLError as exc:
        raise GovbusError(ErrorCode.INVALID_CATALOG, f"{path}: not valid YAML: {exc}") from exc
    try:
        catalog = Catalog.model_validate(raw)
    except ValidationError as exc:
        problems = [
            _problem(raw, err["loc"], err["msg"]) for err in exc.errors(include_input=False)
        ]
        raise GovbusError(
            ErrorCode.INVALID_CATALOG,
            f"{path}: " + "; ".join(problems),
            details={"problems": problems},
        ) from exc
    if schemas is not None:
        catalog.check_against(schemas, source=str(path))
    return catalog
