"""`audit verify`'s two sources: the database tables, or the Kafka topic."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from govbus import Settings
from govbus.gateway._db import Database
from govbus.gateway.audit._chain import ChainEntry, Checkpoint
from govbus.gateway.audit._check import ChainReport, check_chain
from govbus.gateway.audit._kafka import UnreadableMessage, read_topic
from govbus.gateway.audit._store import AuditStore


def verify_database(db: Database, public_key: Ed25519PublicKey) -> ChainReport:
    store = AuditStore(db)
    return check_chain(list(store.all_entries()), store.all_checkpoints(), public_key)


def verify_topic(settings: Settings, topic: str, public_key: Ed25519PublicKey) -> ChainReport:
    try:
        items = read_topic(settings, topic)
    except UnreadableMessage as exc:
        return ChainReport(
            entries=0, checkpoints=0, head_seq=0, last_checkpoint=None, problem=str(exc)
        )
    entries = [i for i in items if isinstance(i, ChainEntry)]
    checkpoints = [i for i in items if isinstance(i, Checkpoint)]
    return check_chain(entries, checkpoints, public_key)
