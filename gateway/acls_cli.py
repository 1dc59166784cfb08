"""`govbus admin acls sync`: one reconciliation pass of the broker's ACLs, or its plan.

Registered under `govbus admin` by `govbus.gateway.cli`. Imports stay inside the command:
the CLI root must not load confluent-kafka's admin API to start.
"""

from __future__ import annotations

from typing import Annotated

import typer

acls_app = typer.Typer(
    name="acls", help="Kafka ACLs from the catalog and the active grants.", no_args_is_help=True
)


@acls_app.command("sync")
def acls_sync(
    dry_run: Annotated[bool, typer.Option(help="Print the plan, change nothing")] = False,
) -> None:
    """Make the broker's govbus ACLs what the catalog and the active grants want: WRITE for
    each department on the topics it is an authority on, READ on what it is granted.

    Each change is printed, applied and audited; exits 1 if the broker refused some."""
    from govbus import ErrorCode, GovbusError, load_contract, require_broker
    from govbus.gateway._db import open_database
    from govbus.gateway._settings import GatewaySettings
    from govbus.gateway.acls import (
        AclReconcileError,
        KafkaAcl,
        department_users,
        gateway_reconciler,
    )
    from govbus.gateway.audit import AuditKeyError, open_audit_log
    from govbus.gateway.principals import PrincipalStore
    from govbus.gateway.subscriptions import SubscriptionService

    settings = GatewaySettings()
    catalog = load_contract(settings).catalog
    require_broker(settings)
    db = open_database(settings.gateway_db)
    try:
        # The gateway's chain, unmirrored: a serving gateway's mirror publishes the entries.
        audit = open_audit_log(settings.model_copy(update={"audit_mirror": False}), db)
    except AuditKeyError as exc:
        typer.echo(f"error {exc.code}: {exc.message}", err=True)
        raise typer.Exit(2) from None
    principals = PrincipalStore(db)
    reconciler = gateway_reconciler(
        settings,
        catalog,
        SubscriptionService(db, catalog, audit).active_grants,
        audit,
        users=lambda: department_users(principals.all()),
        actor="cli",
    )
    failed: tuple[KafkaAcl, ...] = ()
    try:
        plan = reconciler.plan() if dry_run else reconciler.reconcile()
    except AclReconcileError as exc:
        plan, failed = exc.plan, exc.failed
    except Exception as exc:  # KafkaException: not authorised, ACLs not enabled
        raise GovbusError(ErrorCode.KAFKA_ERROR, f"could not sync ACLs: {exc}") from None
    finally:
        audit.close()  # signs the head, so a cut of the command's entries is caught
    for change in plan.changes:
        verb = {"added": "add", "removed": "remove"}[change.kind.value]
        done = "refused" if change.acl in failed else "would " + verb if dry_run else verb
        typer.echo(f"{done}: {change.acl} ({change.why})")
    if plan.empty:
        typer.echo("ACLs already match the catalog and the grants")
    if failed:
        typer.echo(f"error KAFKA_ERROR: the broker refused {len(failed)} change(s)", err=True)
        raise typer.Exit(1)
