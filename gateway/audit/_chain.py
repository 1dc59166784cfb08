"""The hash chain, pure: entries, their canonical bytes and hashes, and checkpoints.

An entry's hash is the SHA-256 of its canonical JSON (sorted keys, no spaces, UTF-8) without
the `hash` member; `prev_hash` is the previous entry's hash, GENESIS_HASH for entry 1. A
checkpoint signs a chain head (seq, hash); `_signing` makes and checks the signature.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from govbus.gateway.audit._models import AuditRecord

GENESIS_HASH = "0" * 64
_AT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # fixed width, so text order is time order


def format_at(moment: datetime) -> str:
    """UTC, microseconds, `Z`; a naive datetime is taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(_AT_FORMAT)


def now_at() -> str:
    return format_at(datetime.now(UTC))


def canonical_bytes(body: dict[str, Any]) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class ChainEntry(BaseModel):
    """One link: the record's fields, where it sits (seq, at) and the hashes that bind it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int
    at: str
    actor: str
    action: str
    resource: str | None = None
    fields: tuple[str, ...] = ()
    records: int | None = None
    target: str | None = None
    reason: str | None = None
    outcome: str = "ok"
    prev_hash: str
    hash: str

    def body(self) -> dict[str, Any]:
        """What the hash covers: everything but the hash itself."""
        data = self.model_dump(exclude={"hash"})
        data["fields"] = list(self.fields)
        return data

    def computed_hash(self, *, seq: int | None = None) -> str:
        """The hash of this entry's content, or of the same content at another `seq`."""
        body = self.body()
        if seq is not None:
            body["seq"] = seq
        return hashlib.sha256(canonical_bytes(body)).hexdigest()

    def record(self) -> AuditRecord:
        return AuditRecord(
            actor=self.actor,
            action=self.action,
            resource=self.resource,
            fields=self.fields,
            records=self.records,
            target=self.target,
            reason=self.reason,
            outcome=self.outcome,
        )


def next_entry(head: tuple[int, str] | None, at: str, record: AuditRecord) -> ChainEntry:
    """The entry after `head` (seq, hash of the last entry; None for an empty chain)."""
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
    unhashed = ChainEntry(seq=seq, at=at, prev_hash=prev_hash, hash="", **record.model_dump())
    return unhashed.model_copy(update={"hash": unhashed.computed_hash()})


class Checkpoint(BaseModel):
    """A signed chain head: entry `seq` has hash `hash`. `key_id` names the signing key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seq: int
    hash: str
    at: str
    key_id: str
    signature: str  # hex Ed25519 signature of signed_message()

    def signed_message(self) -> bytes:
        body = {"seq": self.seq, "hash": self.hash, "at": self.at, "key_id": self.key_id}
        return b"govbus-audit-checkpoint-v1\n" + canonical_bytes(body)
