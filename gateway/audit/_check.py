"""Recompute a chain and its checkpoints and name the first thing that was tampered with.

The entries come in stored order (by seq from the database, by offset from Kafka). An exact
repeat of the previous entry or checkpoint is a harmless resend and is skipped.

What a checkpoint proves: the signed (seq, hash) pins every entry up to seq, so a tail cut
before the latest checkpoint is caught, and so is a chain rewritten and rehashed from some
entry on. Entries after the latest checkpoint are unsigned: cutting them, together with no
checkpoint, looks like a gateway that stopped (at most N entries or M seconds); and cutting
the tail *and* its checkpoints from one copy is caught only by comparing with the other copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict

from govbus.gateway.audit._chain import GENESIS_HASH, ChainEntry, Checkpoint
from govbus.gateway.audit._signing import key_id, signature_valid

_Item = TypeVar("_Item", ChainEntry, Checkpoint)


class ChainReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    entries: int
    checkpoints: int
    head_seq: int
    last_checkpoint: Checkpoint | None
    problem: str | None = None  # None: intact

    @property
    def intact(self) -> bool:
        return self.problem is None

    @property
    def unsigned_tail(self) -> int:
        return self.head_seq - (self.last_checkpoint.seq if self.last_checkpoint else 0)


def _without_resends(items: Sequence[_Item]) -> list[_Item]:
    kept: list[_Item] = []
    for item in items:
        if not kept or kept[-1] != item:
            kept.append(item)
    return kept


def _link_problem(entries: list[ChainEntry], i: int, prev_hash: str, before: str | None) -> str:
    """Entry i does not link to the one before it: which tampering fits."""
    entry = entries[i]
    following = entries[i + 1] if i + 1 < len(entries) else None
    if following is not None and following.prev_hash == prev_hash:
        return f"entry {entry.seq} inserted (the next entry links past it)"
    if before is not None and entry.prev_hash == before:
        return f"entry {entry.seq - 1} inserted (entry {entry.seq} links past it)"
    if entry.seq == 1:
        return "entry 1 altered (it does not start from the genesis hash)"
    return f"entry {entry.seq - 1} altered (its hash no longer links to entry {entry.seq})"


def _chain_problem(entries: list[ChainEntry]) -> str | None:
    prev_hash, before, expected = GENESIS_HASH, None, 1
    for i, entry in enumerate(entries):
        if entry.seq < expected:
            return f"entry {entry.seq} inserted (sequence number {entry.seq} appears twice)"
        if entry.seq > expected:
            last = entry.seq - 1
            gap = f"entry {expected}" if last == expected else f"entries {expected}-{last}"
            return f"{gap} removed"
        if entry.computed_hash() != entry.hash:
            if entry.computed_hash(seq=entry.seq - 1) == entry.hash:
                return f"entry {entry.seq - 1} inserted (the entries after it were renumbered)"
            if entry.computed_hash(seq=entry.seq + 1) == entry.hash:
                return f"entry {entry.seq} removed (the entries after it were renumbered)"
            return f"entry {entry.seq} altered (its content does not match its hash)"
        if entry.prev_hash != prev_hash:
            return _link_problem(entries, i, prev_hash, before)
        prev_hash, before, expected = entry.hash, prev_hash, expected + 1
    return None


def _checkpoint_problem(
    checkpoints: list[Checkpoint], hashes: dict[int, str], public_key: Ed25519PublicKey
) -> str | None:
    head = max(hashes, default=0)
    signer, last_good = key_id(public_key), 0
    for checkpoint in checkpoints:
        if checkpoint.key_id != signer:
            return f"checkpoint {checkpoint.seq} is signed by another key ({checkpoint.key_id})"
        if not signature_valid(checkpoint, public_key):
            return f"checkpoint {checkpoint.seq} has an invalid signature"
        if checkpoint.seq > head:
            first, last = head + 1, checkpoints[-1].seq
            missing = f"entry {first}" if first == last else f"entries {first}-{last}"
            return f"{missing} missing: the tail was cut before checkpoint {last}"
        if hashes.get(checkpoint.seq) != checkpoint.hash:
            return (
                f"the chain was rewritten between entries {last_good + 1} and {checkpoint.seq}: "
                f"checkpoint {checkpoint.seq} signs another hash"
            )
        last_good = checkpoint.seq
    return None


def check_chain(
    entries: Sequence[ChainEntry],
    checkpoints: Sequence[Checkpoint],
    public_key: Ed25519PublicKey,
) -> ChainReport:
    chain = _without_resends(entries)
    signed = sorted(_without_resends(checkpoints), key=lambda c: c.seq)
    problem = _chain_problem(chain) or _checkpoint_problem(
        signed, {e.seq: e.hash for e in chain}, public_key
    )
    return ChainReport(
        entries=len(chain),
        checkpoints=len(signed),
        head_seq=chain[-1].seq if chain else 0,
        last_checkpoint=signed[-1] if signed else None,
        problem=problem,
    )
