"""`govbus relay`, `govbus publish` and `govbus admin topics ensure`."""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Annotated

import typer

DepartmentOption = Annotated[
    str,
    typer.Option(
        "--department", "-d", metavar="CODE", help="Department code from the catalog, e.g. PSB"
    ),
]


def relay(
    db: Annotated[
        str, typer.Option(metavar="URL", help="postgresql://... or sqlite:///path/to.db")
    ],
    department: DepartmentOption,
    batch_size: Annotated[int, typer.Option(help="Rows per claim")] = 2000,
    create_table: Annotated[
        bool, typer.Option(help="Create govbus_outbox (and its trigger) if missing")
    ] = False,
    until_empty: Annotated[
        bool, typer.Option(help="Exit once every committed row is sent")
    ] = False,
) -> None:
    """Publish the department's outbox rows in order per aggregate, marking them sent on ack."""
    import sqlite3

    import psycopg

    from govbus import (
        ErrorCode,
        GovbusError,
        Settings,
        configure_logging,
        load_contract,
        redact_url,
        require_broker,
    )
    from govbus.producers._outbox_store import connect, open_outbox
    from govbus.producers._outbox_tables import create_outbox_table
    from govbus.producers._publisher import Publisher
    from govbus.producers._relay import run_relay

    settings = Settings()
    configure_logging(settings.log_level, settings.log_format)
    contract = load_contract(settings)
    department = contract.catalog.department_code(department)
    require_broker(settings)
    try:
        if create_table:
            conn = connect(db)
            create_outbox_table(conn)
            conn.commit()
            conn.close()
        store = open_outbox(db)
    except (sqlite3.Error, psycopg.Error) as exc:
        reason = " ".join(str(exc).split())
        raise GovbusError(
            ErrorCode.STORE_UNAVAILABLE, f"cannot open the outbox {redact_url(db)}: {reason}"
        ) from None
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    publisher = Publisher(department, settings, contract=contract)
    try:
        with publisher:
            stats = run_relay(
                store, publisher, stop=stop, until_empty=until_empty, batch_size=batch_size
            )
    finally:
        store.close()
    typer.echo(f"sent {stats.sent}, refused {stats.refused}")
    if stats.refused:
        raise typer.Exit(1)


def publish(
    file: Annotated[Path, typer.Argument(help="JSON Lines (.jsonl) or CSV (.csv) file")],
    department: DepartmentOption,
    resource: Annotated[
        str, typer.Option("--resource", "-r", metavar="CODE", help="Resource code, e.g. BR-PERSON")
    ],
    rejects: Annotated[
        Path | None,
        typer.Option(
            metavar="PATH", help="Where to write rejected lines (default FILE.rejects.jsonl)"
        ),
    ] = None,
) -> None:
    """Publish a file of records; rerunning it only produces duplicates consumers drop.

    Exits 1 when some lines were refused or not acknowledged (see the rejects file)."""
    from govbus.producers._file_cli import publish_file_command

    publish_file_command(file, department, resource, rejects)


admin_app = typer.Typer(name="admin", help="Platform administration.", no_args_is_help=True)
topics_app = typer.Typer(name="topics", help="The catalog's Kafka topics.")
admin_app.add_typer(topics_app)


@topics_app.command("ensure")
def topics_ensure(
    partitions: Annotated[int, typer.Option(help="Partitions of a new topic")] = 6,
    replication_factor: Annotated[
        int, typer.Option(help="Replicas of a new topic; -1 uses the broker default")
    ] = -1,
    prefix: Annotated[str, typer.Option(help="Prefix for the base topics")] = "",
) -> None:
    """Create the base topics (kept forever) and the dead-letter topic when missing."""
    from govbus import Settings, ensure_catalog_topics, load_contract, require_broker

    settings = Settings()
    contract = load_contract(settings)
    require_broker(settings)
    created = ensure_catalog_topics(
        contract.catalog,
        settings,
        prefix=prefix,
        partitions=partitions,
        replication_factor=replication_factor,
    )
    typer.echo(f"created {len(created)} topic(s): {', '.join(created) or 'none needed'}")


def register(app: typer.Typer) -> None:
    app.command("relay")(relay)
    app.command("publish")(publish)
    app.add_typer(admin_app)
