"""`govbus admin acls sync`: print and apply the ACL plan."""

from __future__ import annotations

import typer

from govbus import ErrorCode, GovbusError, Settings, admin_config, load_contract, require_broker
from govbus.producers._acls import sync_acls


def acls_sync_command(*, dry_run: bool, principal_template: str, lowercase: bool) -> None:
    settings = Settings()
    catalog = load_contract(settings).catalog
    require_broker(settings)
    try:
        plan = sync_acls(
            admin_config(settings),
            catalog,
            template=principal_template,
            lowercase=lowercase,
            dry_run=dry_run,
        )
    except GovbusError:
        raise
    except Exception as exc:  # KafkaException: not authorised, ACLs not enabled
        raise GovbusError(ErrorCode.KAFKA_ERROR, f"could not sync ACLs: {exc}") from None
    verb = "would " if dry_run else ""
    for acl in plan.create:
        typer.echo(f"{verb}create: ALLOW {acl.principal} {acl.operation} topic {acl.topic}")
    for acl in plan.delete:
        typer.echo(f"{verb}delete: ALLOW {acl.principal} {acl.operation} topic {acl.topic}")
    if plan.empty:
        typer.echo("ACLs already match the catalog")
