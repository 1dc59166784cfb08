"""`govbus admin views export`: the views file `govbus project --views` reads.

Registered under `govbus admin` by `govbus.gateway.cli`; imports stay inside the command.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

views_app = typer.Typer(
    name="views", help="View topics of partial grants, for the projector.", no_args_is_help=True
)


@views_app.command("export")
def views_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="The views file to write")],
) -> None:
    """Write the field sets of the active Kafka and HTTP grants to the views file (atomically).

    Each view that is new or no longer wanted since the file's last version is printed and
    audited (view.wanted, view.unwanted); the projector starts or retires it."""
    from datetime import UTC, datetime

    from govbus import load_contract
    from govbus.gateway._db import open_database
    from govbus.gateway._settings import GatewaySettings
    from govbus.gateway.audit import AuditKeyError, open_audit_log
    from govbus.gateway.subscriptions import SubscriptionService
    from govbus.gateway.views import export_views

    settings = GatewaySettings()
    catalog = load_contract(settings).catalog
    db = open_database(settings.gateway_db)
    try:
        audit = open_audit_log(settings.model_copy(update={"audit_mirror": False}), db)
    except AuditKeyError as exc:
        typer.echo(f"error {exc.code}: {exc.message}", err=True)
        raise typer.Exit(2) from None
    try:
        grants = SubscriptionService(db, catalog, audit).active_grants(datetime.now(UTC))
        changes = export_views(catalog, grants, output, audit, actor="admin-cli")
    finally:
        audit.close()
    for change in changes:
        typer.echo(f"{change.kind}: {change.topic} ({change.resource}: {', '.join(change.fields)})")
    if not changes:
        typer.echo(f"{output}: views unchanged")
