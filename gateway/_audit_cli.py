"""`govbus audit`: verify the chained audit log, and make or show its signing key."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from govbus.gateway._settings import GatewaySettings

if TYPE_CHECKING:  # the CLI root loads every role's commands: keep fastapi out of its start
    from govbus.gateway.audit import ChainReport

audit_app = typer.Typer(
    name="audit", help="The gateway's hash-chained audit log.", no_args_is_help=True
)
EXIT_TAMPERED, EXIT_NOTHING = 1, 2


def _refuse(code: str, message: str, exit_code: int = EXIT_NOTHING) -> NoReturn:
    typer.echo(f"error {code}: {' '.join(message.split())}", err=True)
    raise typer.Exit(exit_code)


def _summary(report: ChainReport, source: str) -> str:
    last = report.last_checkpoint
    signed = f"last checkpoint seq {last.seq} at {last.at}" if last else "no checkpoint yet"
    return (
        f"audit intact ({source}): {report.entries} entries, {report.checkpoints} checkpoints, "
        f"{signed}; {report.unsigned_tail} entries after it not yet signed"
    )


@audit_app.command("verify")
def verify(
    from_kafka: Annotated[
        bool, typer.Option("--from-kafka", help="Read the Kafka mirror instead of the database")
    ] = False,
    both: Annotated[
        bool,
        typer.Option(
            "--both",
            help="Verify the database and the mirror, each against the other's checkpoints",
        ),
    ] = False,
    topic: Annotated[str | None, typer.Option(help="Mirror topic (GOVBUS_AUDIT_TOPIC)")] = None,
    db: Annotated[str | None, typer.Option(help="Gateway database (GOVBUS_GATEWAY_DB)")] = None,
    public_key: Annotated[
        Path | None,
        typer.Option(help="Ed25519 public key (PEM); default: GOVBUS_AUDIT_SIGNING_KEY's"),
    ] = None,
) -> None:
    """Recompute the chain and the checkpoint signatures; name the first tampered entry."""
    from confluent_kafka import KafkaException

    from govbus import require_broker
    from govbus.gateway._db import open_database
    from govbus.gateway.audit import (
        AuditKeyError,
        load_public_key,
        public_key_path,
        verify_both,
        verify_database,
        verify_topic,
    )

    settings = GatewaySettings()
    try:
        key = load_public_key(public_key or public_key_path(settings))
    except AuditKeyError as exc:
        _refuse(exc.code, exc.message)
    database = open_database(db or settings.gateway_db)
    name = topic or settings.audit_topic
    if from_kafka or both:
        require_broker(settings)
        try:
            if both:
                report, source = verify_both(database, settings, name, key)
            else:
                report, source = verify_topic(settings, name, key), f"topic {name}"
        except KafkaException as exc:
            _refuse("AUDIT_TOPIC_UNREADABLE", f"{name}: {exc.args[0].str()}")
        except (TimeoutError, RuntimeError) as exc:
            _refuse("AUDIT_TOPIC_UNREADABLE", str(exc))
    else:
        report, source = verify_database(database, key), "database"
    if report.problem is not None:
        _refuse("AUDIT_TAMPERED", f"{report.problem} ({source})", EXIT_TAMPERED)
    typer.echo(_summary(report, source))


@audit_app.command("keygen")
def keygen(path: Annotated[Path, typer.Argument(help="Where to write the private key")]) -> None:
    """Make an Ed25519 signing key (PEM, mode 0600) and print its public key."""
    from govbus.gateway.audit import AuditKeyError, public_pem, write_new_key

    try:
        key = write_new_key(path)
    except AuditKeyError as exc:
        _refuse(exc.code, exc.message)
    typer.echo(f"{path}: written; set GOVBUS_AUDIT_SIGNING_KEY={path}", err=True)
    typer.echo(public_pem(key.public_key()), nl=False)


@audit_app.command("public-key")
def public_key_command() -> None:
    """Print the public key of GOVBUS_AUDIT_SIGNING_KEY, for verifiers elsewhere."""
    from govbus.gateway.audit import AuditKeyError, load_public_key, public_key_path, public_pem

    try:
        key = load_public_key(public_key_path(GatewaySettings()))
    except AuditKeyError as exc:
        _refuse(exc.code, exc.message)
    typer.echo(public_pem(key), nl=False)
