"""`govbus publish FILE`: progress and summary; values never reach the console.

Exit 0 when every line was published, 1 when some were refused or not acknowledged.
"""

from __future__ import annotations

from pathlib import Path

import typer

from govbus import (
    ErrorCode,
    GovbusError,
    Settings,
    configure_logging,
    load_contract,
    require_broker,
)
from govbus.producers._file_ingest import ingest_file
from govbus.producers._publisher import Publisher
from govbus.terminal import console, progress


def default_rejects_path(file: Path) -> Path:
    return file.with_name(file.name + ".rejects.jsonl")


def publish_file_command(
    file: Path, department: str, resource_code: str, rejects: Path | None
) -> None:
    settings = Settings()
    configure_logging("ERROR", settings.log_format)  # the summary says it all
    if not file.is_file():
        raise GovbusError(ErrorCode.USAGE, f"{file} is not a file")
    contract = load_contract(settings)
    catalog = contract.catalog
    department = catalog.department_code(department)
    resource = catalog.resource(catalog.resource_code(resource_code))
    require_broker(settings)
    publisher = Publisher(department, settings, contract=contract)
    rejects_path = rejects or default_rejects_path(file)
    with (
        progress(
            f"publishing {file.name}", file.stat().st_size, out=console(stderr=True), unit="bytes"
        ) as line,
        publisher,
    ):
        summary = ingest_file(file, publisher, resource, rejects_path, on_line=line.advance)
    typer.echo(f"published: {summary.published}")
    typer.echo(f"rejected: {summary.rejected}")
    for code, count in sorted(summary.rejected_by_code.items()):
        typer.echo(f"  {code}: {count}")
    if summary.rejects_path is not None:
        typer.echo(f"rejects written to: {summary.rejects_path}")
    if summary.not_acknowledged:
        typer.echo(f"not acknowledged by the broker: {summary.not_acknowledged} (rerun the file)")
    if summary.rejected or summary.not_acknowledged:
        raise typer.Exit(1)
