"""`govbus sync` and `govbus store get|verify-certificate`."""

from __future__ import annotations

import os
import pwd
import signal
import threading
from enum import StrEnum
from types import FrameType
from typing import Annotated

import structlog
import typer
from rich.table import Table

from govbus import (
    CertificateKey,
    Contract,
    EntityKind,
    ErrorCode,
    GovbusError,
    Settings,
    configure_logging,
    load_contract,
    require_broker,
)
from govbus.consumers._queries import (
    field_views,
    find_certificates,
    masked_key,
    resource_of,
    verify_certificate,
)
from govbus.consumers._rebuild import rebuild_store
from govbus.consumers._store import Store, open_store
from govbus.consumers._store_errors import store_errors_as_refusals
from govbus.consumers._sync import SyncOptions, SyncService
from govbus.consumers.project_cli import project
from govbus.terminal import console as make_console
from govbus.terminal import progress

console = make_console()
log = structlog.get_logger("govbus.store")
store_app = typer.Typer(help="Query the base-information store.", no_args_is_help=True)

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store", metavar="URL", help="sqlite:///path or postgresql://… (GOVBUS_STORE_URL)"
    ),
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
    app.command("project")(project)
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
    store_retry_seconds: Annotated[
        float, typer.Option(help="How long to retry a store that is unavailable, then stop")
    ] = 120.0,
) -> None:
    """Keep the base store in sync with the base topics (exactly-once effect).

    Exits 1 when some events were dead-lettered (quarantined) rather than applied."""
    # A stop asked for while starting up is honoured once the service runs (exit 0).
    stop_asked = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop_asked.set())
    signal.signal(signal.SIGINT, lambda *_: stop_asked.set())
    settings = Settings.from_flags(store_url=store)
    configure_logging(settings.log_level, settings.log_format)
    contract = load_contract(settings)
    require_broker(settings)
    target = open_store(settings.store_url)
    options = SyncOptions(
        group=group,
        topic_prefix=topic_prefix,
        batch_max_records=batch_size,
        batch_max_seconds=batch_ms / 1000,
        max_idle_seconds=max_idle_seconds if until_idle else None,
        instance_id=instance_id,
        store_retry_seconds=store_retry_seconds,
    )
    try:
        with store_errors_as_refusals("syncing"):
            quarantined = _rebuild(settings, contract, target, options) if rebuild else 0
            if until_idle or not rebuild:
                quarantined += _follow(settings, contract, target, options, stop_asked)
    finally:
        target.close()
    if quarantined:
        raise typer.Exit(1)


def _follow(
    settings: Settings,
    contract: Contract,
    target: Store,
    options: SyncOptions,
    stop_asked: threading.Event,
) -> int:
    """Apply the topics until stopped (or idle); returns how many were quarantined."""
    service = SyncService(settings, contract, target, options)

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        service.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if stop_asked.is_set():
        service.stop()
    totals = service.run()
    console.print(
        f"applied {totals.applied_events} events in {totals.batches} batches; "
        f"{totals.duplicate_events} duplicates, {totals.quarantined} quarantined",
        markup=False,
    )
    return totals.quarantined


def _rebuild(settings: Settings, contract: Contract, target: Store, options: SyncOptions) -> int:
    with progress("rebuilding", None, out=console) as line:
        totals = rebuild_store(settings, contract, target, options, line.update)
    console.print(
        f"rebuilt from {totals.applied_events + totals.quarantined} records: "
        f"{totals.applied_events} events applied, {totals.quarantined} quarantined",
        markup=False,
    )
    return totals.quarantined


@store_app.command("get")
def get(
    entity: Annotated[EntityName, typer.Argument(help="person, legal-entity or certificate")],
    key: Annotated[str, typer.Argument(help="ID number, USCC, or <licence type>:<number>")],
    unmasked: Annotated[
        bool,
        typer.Option(
            "--unmasked", help="Operators on the store host: every value as stored (logged)"
        ),
    ] = False,
    store: StoreOption = None,
) -> None:
    """Print one record as the sharing policy lets it out, with every field's provenance.

    Not-shared fields are withheld, personal and sensitive ones masked (see the catalog).
    Exits 1 when there is no such record."""
    settings = Settings.from_flags(store_url=store)
    catalog = load_contract(settings).catalog
    if unmasked:
        configure_logging(settings.log_level, settings.log_format)
        # Who read what kind of record unmasked; never the key or a value.
        log.warning(
            "unmasked read",
            command=f"store get {entity.value}",
            resource=resource_of(catalog, entity.kind, key).code,
            os_user=_os_user(),
        )
    target = open_store(settings.store_url, create=False)
    try:
        with store_errors_as_refusals("reading the store"):
            record = target.record(entity.kind, key)
    finally:
        target.close()
    shown_key = masked_key(catalog, entity.kind, key, unmasked=unmasked)
    if record is None:
        console.print(f"no {entity.value} {shown_key}", markup=False)
        raise typer.Exit(1)
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


def _os_user() -> str:
    """The account running the command, from the process's uid (not a spoofable $USER)."""
    uid = os.geteuid()
    try:
        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except KeyError:  # a uid with no passwd entry, e.g. in a container
        return f"uid {uid}"


@store_app.command("verify-certificate")
def verify(
    number: Annotated[str, typer.Argument(help="<licence type>:<number>, or a unique number")],
    store: StoreOption = None,
) -> None:
    """Say whether a certificate is valid now, and if not, why.

    Exits 0 when it is valid, 1 when it is not or there is no such certificate."""
    settings = Settings.from_flags(store_url=store)
    catalog = load_contract(settings).catalog
    target = open_store(settings.store_url, create=False)
    try:
        with store_errors_as_refusals("reading the store"):
            found = find_certificates(catalog, target, number)
    finally:
        target.close()
    if not found:
        console.print("no such certificate", markup=False)
        raise typer.Exit(1)
    if len(found) > 1:
        types = ", ".join(CertificateKey.parse(r.key).licence_type_code for r in found)
        raise GovbusError(
            ErrorCode.USAGE,
            f"ambiguous number: held under licence types {types}; give <type>:<number>",
        )
    record = found[0]
    verdict = verify_certificate(record)
    resource = resource_of(catalog, EntityKind.CERTIFICATE, record.key)
    shown = masked_key(catalog, EntityKind.CERTIFICATE, record.key, unmasked=False)
    judged = f"{resource.code} {shown}"
    if verdict.is_valid:
        console.print(f"{judged}: VALID {verdict.reason}", markup=False)
        return
    console.print(f"{judged}: NOT VALID, {verdict.reason}", markup=False)
    raise typer.Exit(1)
