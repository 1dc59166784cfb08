"""`govbus catalog export`: the catalog for a national catalog system, as JSON or CSV."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from govbus._catalog import load_catalog
from govbus._catalog_export import export_catalog
from govbus._errors import ErrorCode, GovbusError
from govbus._schemas import SchemaRepository
from govbus._settings import get_settings


class ExportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"


def export(
    fmt: Annotated[
        ExportFormat, typer.Option("--format", help="json: a list of entries; csv: one row each")
    ] = ExportFormat.JSON,
    output: Annotated[
        Path | None, typer.Option("--output", help="File to write (default: standard output)")
    ] = None,
    schemas_dir: Annotated[
        Path | None,
        typer.Option("--schemas-dir", help="Directory with catalog.yaml and avro/"),
    ] = None,
) -> None:
    """Write every resource with its GB/T 21063.3 core metadata, fields and sharing rules."""
    directory = schemas_dir if schemas_dir is not None else get_settings().schemas_dir
    catalog = load_catalog(directory / "catalog.yaml", SchemaRepository(directory / "avro"))
    text = export_catalog(catalog, fmt.value)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        # newline="": the CSV writer already ends rows with CRLF (RFC 4180).
        with output.open("w", encoding="utf-8", newline="") as out:
            out.write(text)
    except OSError as exc:
        raise GovbusError(
            ErrorCode.USAGE, f"cannot write {output}: {exc.strerror or exc}"
        ) from None
    typer.echo(f"{output}: {len(catalog.resources)} resources ({fmt.value})", err=True)


def register(app: typer.Typer) -> None:
    catalog = typer.Typer(
        name="catalog", help="The catalog of information resources.", no_args_is_help=True
    )
    catalog.command("export")(export)
    app.add_typer(catalog)
