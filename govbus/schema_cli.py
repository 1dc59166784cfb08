"""`govbus schemas`: the compatibility gate, the registry push and a listing of schemas/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from govbus._catalog import load_catalog
from govbus._errors import GovbusError
from govbus._gate import check_schemas_dir, level_for, schema_levels
from govbus._schema_push import push_schemas
from govbus._schemas import SchemaRepository
from govbus._settings import get_settings

SchemasDir = Annotated[
    Path | None,
    typer.Option("--schemas-dir", help="Directory with catalog.yaml and avro/ (default: schemas/)"),
]


def _dir(schemas_dir: Path | None) -> Path:
    return schemas_dir if schemas_dir is not None else get_settings().schemas_dir


def check(schemas_dir: SchemasDir = None) -> None:
    """Check every schema version against its predecessors and the catalog against schemas."""
    report = check_schemas_dir(_dir(schemas_dir))
    err = Console(stderr=True, soft_wrap=True)
    if not report.ok:
        for problem in report.problems:
            err.print(problem, markup=False, highlight=False)
        err.print(f"schemas check: {len(report.problems)} problem(s)", markup=False)
        raise typer.Exit(1)
    levels = ", ".join(f"{name} {level}" for name, level in sorted(report.levels.items()))
    Console(soft_wrap=True).print(
        f"schemas check: {report.versions_checked} versions compatible ({levels})",
        markup=False,
        highlight=False,
    )


def register_schemas(
    url: Annotated[str, typer.Option("--url", help="Schema registry URL")],
    auth: Annotated[
        str | None,
        typer.Option(
            "--auth",
            envvar="GOVBUS_SCHEMA_REGISTRY_AUTH",
            help="user:password for HTTP Basic",
            show_default=False,
        ),
    ] = None,
    schemas_dir: SchemasDir = None,
) -> None:
    """Register schemas/ with a registry; checks everything first and writes nothing on error."""
    try:
        pushed = push_schemas(_dir(schemas_dir), url, auth)
    except GovbusError as exc:
        err = Console(stderr=True, soft_wrap=True)
        err.print(str(exc), markup=False, highlight=False)
        for problem in exc.details.get("problems", []):
            err.print(f"  {problem}", markup=False, highlight=False)
        raise typer.Exit(1) from None
    out = Console(soft_wrap=True)
    for item in pushed:
        state = "already registered" if item.already_registered else "registered"
        out.print(
            f"{item.subject}: {item.file} id {item.schema_id} ({state})",
            markup=False,
            highlight=False,
        )


def list_schemas(schemas_dir: SchemasDir = None) -> None:
    """List schemas, their versions, subjects and compatibility levels."""
    directory = _dir(schemas_dir)
    try:
        repository = SchemaRepository(directory / "avro")
        catalog = load_catalog(directory / "catalog.yaml", repository)
    except GovbusError as exc:
        Console(stderr=True).print(str(exc), markup=False)
        raise typer.Exit(1) from None
    levels = schema_levels(catalog)
    table = Table("schema", "versions", "subjects", "compatibility")
    for name in repository.names():
        subjects = sorted({r.subject for r in catalog.resources if r.schema_name == name})
        versions = ", ".join(f"v{v.version}" for v in repository.versions(name))
        table.add_row(name, versions, ", ".join(subjects) or "-", str(level_for(levels, name)))
    Console().print(table)


def register(app: typer.Typer) -> None:
    schemas = typer.Typer(name="schemas", help="Shared Avro schemas and the catalog.")
    schemas.command("check")(check)
    schemas.command("register")(register_schemas)
    schemas.command("list")(list_schemas)
    app.add_typer(schemas)
