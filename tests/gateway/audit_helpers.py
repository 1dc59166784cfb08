"""Shared by the audit tests: a signing key on disk, a log on a database, the verify command."""

from __future__ import annotations

from pathlib import Path

from click.testing import Result
from typer.testing import CliRunner

from govbus.gateway._audit_cli import audit_app
from govbus.gateway._db import open_database
from govbus.gateway.audit import (
    AuditRecord,
    AuditStore,
    ChainedAuditLog,
    CheckpointSigner,
    KafkaMirror,
    load_private_key,
    write_new_key,
)


def key_file(directory: Path) -> Path:
    path = directory / "audit-key.pem"
    if not path.exists():
        write_new_key(path)
    return path


def make_log(
    db_url: str, key: Path, *, every: int = 5, mirror: KafkaMirror | None = None
) -> ChainedAuditLog:
    return ChainedAuditLog(
        AuditStore(open_database(db_url)),
        CheckpointSigner(load_private_key(key)),
        checkpoint_every=every,
        checkpoint_seconds=0,
        mirror=mirror,
    )


def access(i: int) -> AuditRecord:
    return AuditRecord(
        actor=f"bank0{i % 3}",
        action="lookup.served",
        resource="BR-PERSON" if i % 2 else "EC-MARRIAGE",
        fields=("name", "birth_date"),
        records=1 + i % 4,
        target=f"p:{i:016x}",
    )


def verify(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(audit_app, ["verify", *args], env=env)
