"""`audit verify`'s sources: the database tables, the Kafka topic, or both against each other."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from govbus import Settings
from govbus.gateway._db import Database
from govbus.gateway.audit._chain import ChainEntry, Checkpoint
from govbus.gateway.audit._check import ChainReport, check_chain
from govbus.gateway.audit._kafka import Item, UnreadableMessage, read_topic
from govbus.gateway.audit._store import AuditStore


def _unreadable(exc: UnreadableMessage) -> ChainReport:
    return ChainReport(entries=0, checkpoints=0, head_seq=0, last_checkpoint=None, problem=str(exc))


def _split(items: list[Item]) -> tuple[list[ChainEntry], list[Checkpoint]]:
    entries = [i for i in items if isinstance(i, ChainEntry)]
    return entries, [i for i in items if isinstance(i, Checkpoint)]


def verify_database(db: Database, public_key: Ed25519PublicKey) -> ChainReport:
    store = AuditStore(db)
    return check_chain(list(store.all_entries()), store.all_checkpoints(), public_key)


def verify_topic(settings: Settings, topic: str, public_key: Ed25519PublicKey) -> ChainReport:
    try:
        entries, checkpoints = _split(read_topic(settings, topic))
    except UnreadableMessage as exc:
        return _unreadable(exc)
    return check_chain(entries, checkpoints, public_key)


def _mirror_problem(db: list[ChainEntry], mirror: list[ChainEntry]) -> str | None:
    """The mirror trails the database: each of its entries must be the database's."""
    hashes = {e.seq: e.hash for e in db}
    head = max(hashes, default=0)
    for entry in mirror:
        if entry.seq > head:
            return f"entries {head + 1}-{mirror[-1].seq} are in the mirror but not the database"
        if hashes[entry.seq] != entry.hash:
            return f"entry {entry.seq} differs between the database and the mirror"
    return None


def verify_both(
    db: Database, settings: Settings, topic: str, public_key: Ed25519PublicKey
) -> tuple[ChainReport, str]:
    """Each copy on its own, then against the other; the report and the source it names.

    This catches a copy cut together with its checkpoints: the other copy still holds them,
    and the database chain must satisfy the checkpoints of both.
    """
    try:
        mirror_entries, mirror_checkpoints = _split(read_topic(settings, topic))
    except UnreadableMessage as exc:
        return _unreadable(exc), f"topic {topic}"
    mirror = check_chain(mirror_entries, mirror_checkpoints, public_key)
    if not mirror.intact:
        return mirror, f"topic {topic}"
    store = AuditStore(db)
    db_entries = list(store.all_entries())
    signed = {(c.seq, c.signature): c for c in [*store.all_checkpoints(), *mirror_checkpoints]}
    checkpoints = sorted(signed.values(), key=lambda c: c.seq)
    report = check_chain(db_entries, checkpoints, public_key)
    if not report.intact:
        return report, "database, against the checkpoints of both copies"
    problem = _mirror_problem(db_entries, mirror_entries)
    return report.model_copy(update={"problem": problem}), f"database and topic {topic}"
