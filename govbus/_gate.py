"""The compatibility gate over `schemas/`: every version against its predecessors.

Each schema is checked at the level the catalog gives the resources that use it
(BACKWARD_TRANSITIVE unless a resource says FULL_TRANSITIVE), plus the govbus rule
that a rename needs an alias. Explanations name the file and the field.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from govbus._catalog import Catalog, load_catalog
from govbus._compat import (
    CompatibilityLevel,
    SchemaDefinitionError,
    check_compatibility,
    suspected_renames,
)
from govbus._errors import GovbusError
from govbus._schemas import SchemaRepository, SchemaVersion

DEFAULT_LEVEL = CompatibilityLevel.BACKWARD_TRANSITIVE
# Stricter levels win when several resources share one schema.
_STRICTNESS = [
    CompatibilityLevel.NONE,
    CompatibilityLevel.BACKWARD,
    CompatibilityLevel.FORWARD,
    CompatibilityLevel.BACKWARD_TRANSITIVE,
    CompatibilityLevel.FORWARD_TRANSITIVE,
    CompatibilityLevel.FULL,
    CompatibilityLevel.FULL_TRANSITIVE,
]


class GateReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    schemas_dir: Path
    levels: dict[str, CompatibilityLevel]
    versions_checked: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def schema_levels(catalog: Catalog) -> dict[str, CompatibilityLevel]:
    levels: dict[str, CompatibilityLevel] = {}
    for resource in catalog.resources:
        level = CompatibilityLevel(resource.compatibility)
        current = levels.get(resource.schema_name, CompatibilityLevel.NONE)
        levels[resource.schema_name] = max(current, level, key=_STRICTNESS.index)
    return levels


def level_for(levels: dict[str, CompatibilityLevel], schema_name: str) -> CompatibilityLevel:
    return levels.get(schema_name, DEFAULT_LEVEL)


def version_label(version: SchemaVersion) -> str:
    """`legal_entity_changed/v3.avsc`: how explanations name a file."""
    return f"{version.name}/{version.path.name}"


def check_versions(versions: list[SchemaVersion], level: CompatibilityLevel) -> list[str]:
    """Problems with each version against its predecessors, oldest first."""
    problems: list[str] = []
    for index, version in enumerate(versions):
        expected = index + 1
        label = version_label(version)
        if version.version != expected:
            problems.append(f"{label}: expected v{expected}.avsc next; versions must not skip")
        if index == 0:
            continue
        previous = [(f"v{v.version}", v.definition) for v in versions[:index]]
        try:
            found = check_compatibility(
                version.definition, previous, level, candidate_label=f"v{version.version}"
            )
            if level is not CompatibilityLevel.NONE:
                found += suspected_renames(version.definition, versions[index - 1].definition)
        except SchemaDefinitionError as exc:
            problems.append(f"{label}: {exc}")
            continue
        problems.extend(f"{label}: {problem} ({level})" for problem in found)
    return problems


def check_schemas_dir(schemas_dir: Path) -> GateReport:
    """Load schemas and catalog, cross-check them, then check every version."""
    problems: list[str] = []
    try:
        repository = SchemaRepository(schemas_dir / "avro")
    except GovbusError as exc:
        return GateReport(
            schemas_dir=schemas_dir, levels={}, versions_checked=0, problems=[str(exc)]
        )
    levels: dict[str, CompatibilityLevel] = {}
    try:
        # Levels first, so a catalog that fails the cross-check still gates its schemas.
        catalog = load_catalog(schemas_dir / "catalog.yaml")
        levels = schema_levels(catalog)
        catalog.check_against(repository, source=str(schemas_dir / "catalog.yaml"))
    except GovbusError as exc:
        listed = exc.details.get("problems")
        catalog_path = schemas_dir / "catalog.yaml"
        if listed:
            problems.extend(f"{exc.code}: {catalog_path}: {p}" for p in listed)
        else:
            problems.append(f"{exc.code}: {exc.message}")
    checked = 0
    for name in repository.names():
        versions = repository.versions(name)
        checked += len(versions)
        problems.extend(check_versions(versions, level_for(levels, name)))
    return GateReport(
        schemas_dir=schemas_dir,
        levels={name: level_for(levels, name) for name in repository.names()},
        versions_checked=checked,
        problems=problems,
    )
