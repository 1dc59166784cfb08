"""`govbus publish FILE`: progress bar and summary; values never reach the console."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from govbus import GovbusError, Settings, configure_logging
from govbus.producers._file_ingest import ingest_file
from govbus.producers._publisher import Publisher


def default_rejects_path(file: Path) -> Path:
    return file.with_name(file.name + ".rejects.jsonl")


def publish_file_command(
    file: Path, department: str, resource_code: str, rejects: Path | None
) -> None:
    console = Console(stderr=True)
    settings = Settings()
    configure_logging("ERROR", settings.log_format)  # the summary says it all
    if not file.is_file():
        console.print(f"[red]error[/]: {file} is not a file")
        raise typer.Exit(2)
    try:
        publisher = Publisher(department, settings)
        resource = publisher.contract.catalog.resource(resource_code)
    except GovbusError as exc:
        console.print(f"[red]error[/]: {exc}")
        raise typer.Exit(2) from None
    rejects_path = rejects or default_rejects_path(file)
    with (
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as progress,
        publisher,
    ):
        task = progress.add_task(f"publishing {file.name}", total=file.stat().st_size)
        summary = ingest_file(
            file,
            publisher,
            resource,
            rejects_path,
            on_line=lambda size: progress.advance(task, size),
        )
    typer.echo(f"published: {summary.published}")
    typer.echo(f"rejected: {summary.rejected}")
    for code, count in sorted(summary.rejected_by_code.items()):
        typer.echo(f"  {code}: {count}")
    if summary.rejects_path is not None:
        typer.echo(f"rejects written to: {summary.rejects_path}")
    if summary.not_acknowledged:
        typer.echo(f"not acknowledged by the broker: {summary.not_acknowledged} (rerun the file)")
        raise typer.Exit(1)
