"""`govbus sync` and `govbus store get|verify-certificate`."""

from __future__ import annotations

import signal
from enum import StrEnum
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from govbus import (
    CertificateKey,
    Contract,
    EntityKind,
    Settings,
    configure_logging,
    get_settings,
    load_contract,
)
from govbus.consumers._queries import field_views, find_certificates, masked_key, verify_certificate
from govbus.consumers._rebuild import rebuild_store
from govbus.consumers._store import Store, open_store
from govbus.consumers._sync import SyncOptions, SyncService

console = Console()
store_app = typer.Typer(help="Query the base-information store.", no_args_is_help=True)

StoreOption = Annotated[
    str | None, typer.Option("--store", help="sqlite:///path or postgresql://… (GOVBUS_STORE_URL)")
]


class EntityName(StrEnum):
    PERSON = "person"
    LEGAL_ENTITY = "legal-entity"
    CERTIFICATE = "certificate"

    @property
    def kind(self) -> EntityKind:
        return EntityKind(self.value.replace("-", "_"))


def register(app: typer.Typer) -> None:
    app.command("sync")(sync)
    app.add_typer(store_app, name="store")


def sync(
    store: StoreOption = None,
    group: Annotated[str, typer.Option(help="Consumer group; offsets are kept per group")] = (
        "base-store"
    ),
    rebuild: Annotated[
        bool, typer.Option("--rebuild", help="Empty the store and replay the topics")
    ] = False,
    until_idle: Annotated[
        bool, typer.Option("--until-idle", help="Stop once caught up (no records for a while)")
    ] = False,
    max_idle_seconds: Annotated[
        float, typer.Option(help="With --until-idle: how long without records means idle")
    ] = 5.0,
    topic_prefix: Annotated[
        str, typer.Option(help="Read <prefix><catalog topic> (isolated test and demo runs)")
    ] = "",
    instance_id: Annotated[
        str | None, typer.Option(help="Static group member id (fast restart, no rebalance)")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Most records per transaction")] = 5000,
    batch_ms: Annotated[float, typer.Option(help="Longest wait to fill a batch")] = 50.0,
) -> None:
    """Keep the base store in sync with the base topics (exactly-once effect)."""
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    contract = load_contract(settings)
    target = open_store(store or settings.store_url)
    options = SyncOptions(
        group=group,
        topic_prefix=topic_prefix,
        batch_max_records=batch_size,
        batch_max_seconds=batch_ms / 1000,
        max_idle_seconds=max_idle_seconds if until_idle else None,
        instance_id=instance_id,
    )
    try:
        if rebuild:
            _rebuild(settings, contract, target, options)
            if not until_idle:
                return
        service = SyncService(settings, contract, target, options)

        def _stop(_signum: int, _frame: FrameType | None) -> None:
            service.stop()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        totals = service.run()
        console.print(
            f"applied {totals.applied_events} events in {totals.batches} batches; "
            f"{totals.duplicate_events} duplicates, {totals.quarantined} quarantined"
        )
    finally:
        target.close()


def _rebuild(settings: Settings, contract: Contract, target: Store, options: SyncOptions) -> None:
    with Progress(
        *Progress.get_default_columns()[:-1],
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
    ) as progress:
        task = progress.add_task("rebuilding", total=None)

        def _advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        totals = rebuild_store(settings, contract, target, options, _advance)
    console.print(
        f"rebuilt from {totals.applied_events + totals.quarantined} records: "
        f"{totals.applied_events} events applied, {totals.quarantined} quarantined"
    )


@store_app.command("get")
def get(
    entity: Annotated[EntityName, typer.Argument(help="person, legal-entity or certificate")],
    key: Annotated[str, typer.Argument(help="ID number, USCC, or <licence type>:<number>")],
    unmasked: Annotated[bool, typer.Option("--unmasked", help="Show values unmasked")] = False,
    store: StoreOption = None,
) -> None:
    """Print one record, masked per the catalog, with the provenance of every field."""
    settings = get_settings()
    catalog = load_contract(settings).catalog
    target = open_store(store or settings.store_url)
    try:
        record = target.record(entity.kind, key)
    finally:
        target.close()
    shown_key = masked_key(catalog, entity.kind, key, unmasked=unmasked)
    if record is None:
        console.print(f"no {entity.value} {shown_key}")
        raise typer.Exit(2)
    state = "deleted" if record.deleted else "current"
    table = Table(title=f"{entity.value} {shown_key} ({state})")
    for column in ("field", "value", "source", "sequence", "event id", "occurred", "applied"):
        table.add_column(column)
    for view in field_views(catalog, record, unmasked=unmasked):
        p = view.provenance
        table.add_row(
            view.name,
            view.value,
            *(
                (
                    p.source_department,
                    str(p.source_sequence),
                    str(p.event_id),
                    p.occurred_at.isoformat(),
                    p.applied_at.isoformat(),
                )
                if p
                else ("", "", "", "", "")
            ),
        )
    console.print(table)
    if record.holder_known is not None:
        console.print(f"holder known: {'yes' if record.holder_known else 'no'}")


@store_app.command("verify-certificate")
def verify(
    number: Annotated[str, typer.Argument(help="<licence type>:<number>, or a unique number")],
    store: StoreOption = None,
) -> None:
    """Say whether a certificate is valid now, and if not, why."""
    settings = get_settings()
    catalog = load_contract(settings).catalog
    target = open_store(store or settings.store_url)
    try:
        found = find_certificates(catalog, target, number)
    finally:
        target.close()
    if not found:
        console.print("no such certificate")
        raise typer.Exit(2)
    if len(found) > 1:
        types = ", ".join(CertificateKey.parse(r.key).licence_type_code for r in found)
        console.print(f"ambiguous number: held under licence types {types}; give <type>:<number>")
        raise typer.Exit(2)
    verdict = verify_certificate(found[0])
    console.print(f"{'VALID' if verdict.is_valid else 'NOT VALID'}: {verdict.reason}")
    if not verdict.is_valid:
        raise typer.Exit(1)
