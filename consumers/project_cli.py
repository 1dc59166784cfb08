"""`govbus project`: the projector that writes the view topics of partial grants."""

from __future__ import annotations

import signal
import socket
from pathlib import Path
from types import FrameType
from typing import Annotated

import structlog
import typer

from govbus import (
    ErrorCode,
    GovbusError,
    GrantPolicy,
    Settings,
    configure_logging,
    load_contract,
    read_views_file,
    require_broker,
    view_policies,
)
from govbus.consumers._projector import ProjectorOptions, ProjectorService
from govbus.consumers._view_worker import WorkerOptions
from govbus.terminal import console as make_console

console = make_console()
log = structlog.get_logger("govbus.project")


def project(
    views: Annotated[
        Path | None,
        typer.Option(
            "--views",
            metavar="FILE",
            help="Views file (JSON, `govbus admin views export`); re-read every refresh",
        ),
    ] = None,
    view: Annotated[
        list[str] | None,
        typer.Option("--view", metavar="RESOURCE=F1,F2", help="A grant's field set (repeatable)"),
    ] = None,
    topic_prefix: Annotated[
        str, typer.Option(help="Read and write <prefix><topic> (isolated test and demo runs)")
    ] = "",
    instance_id: Annotated[
        str | None,
        typer.Option(help="Stable per instance (default: host name): its transactional ids"),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Most records per transaction")] = 2000,
    refresh_seconds: Annotated[float, typer.Option(help="How often the views are re-read")] = (
        10.0
    ),
    delete_grace_seconds: Annotated[
        float | None,
        typer.Option(
            help="Delete a view topic unwanted this long (GOVBUS_VIEW_DELETE_GRACE_SECONDS)"
        ),
    ] = None,
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Stop once every view is caught up and idle")
    ] = False,
    max_idle_seconds: Annotated[
        float, typer.Option(help="With --until-idle: how long without records means idle")
    ] = 5.0,
) -> None:
    """Write the view topics: the base topics filtered and masked per grant, exactly once.

    One view per distinct (resource, granted fields, masks); a new view is backfilled from
    the start of its base topic; N instances with distinct --instance-id split the partitions."""
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    contract = load_contract(settings)
    if not views and not view:
        raise GovbusError(ErrorCode.USAGE, "give --views FILE or at least one --view")
    if not settings.schema_registry_url:
        raise GovbusError(
            ErrorCode.INVALID_SETTING,
            "the projector registers the view schemas: set GOVBUS_SCHEMA_REGISTRY_URL",
        )
    flags = [_parse_view(text) for text in view or []]
    static = view_policies(contract.catalog, flags)  # bad flags fail before anything starts

    last_good: list[GrantPolicy] = read_views_file(contract.catalog, views) if views else []

    def wanted() -> list[GrantPolicy]:
        """Flags and file; a file that turns bad later keeps the last good views (logged)."""
        nonlocal last_good
        if views:
            try:
                last_good = read_views_file(contract.catalog, views)
            except GovbusError as error:
                log.warning("views file unreadable, keeping the last views", error=str(error))
        return [*static, *last_good]

    require_broker(settings)
    grace = (
        delete_grace_seconds
        if delete_grace_seconds is not None
        else settings.view_delete_grace_seconds
    )
    service = ProjectorService(
        settings,
        contract,
        wanted,
        ProjectorOptions(
            topic_prefix=topic_prefix,
            refresh_seconds=refresh_seconds,
            delete_grace_seconds=grace,
            max_idle_seconds=max_idle_seconds if until_idle else None,
            worker=WorkerOptions(
                instance_id=instance_id or socket.gethostname(), batch_max_records=batch_size
            ),
        ),
    )

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        service.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    service.run()
    for worker, _thread in service.workers.values():
        t = worker.totals
        console.print(
            f"{worker.view.topic}: {t.consumed} consumed, {t.written} written "
            f"in {t.transactions} transactions",
            markup=False,
        )


def _parse_view(text: str) -> tuple[str, list[str]]:
    resource, sep, fields = text.partition("=")
    names = [f.strip() for f in fields.split(",") if f.strip()]
    if not sep or not resource.strip():
        raise GovbusError(ErrorCode.USAGE, f"--view {text!r}: expected RESOURCE=FIELD,FIELD")
    return resource.strip(), names
