"""The chain and its checker, pure: every kind of tampering is named at the right entry."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from govbus.gateway.audit import (
    GENESIS_HASH,
    AuditRecord,
    ChainEntry,
    Checkpoint,
    CheckpointSigner,
    check_chain,
    guard_record,
    next_entry,
)

KEY = Ed25519PrivateKey.generate()
SIGNER = CheckpointSigner(KEY)


def record(i: int) -> AuditRecord:
    return AuditRecord(
        actor=f"dept-{i % 3}", action="lookup.served", resource="BR-PERSON", fields=("name",)
    )


def chain(n: int) -> list[ChainEntry]:
    entries: list[ChainEntry] = []
    for i in range(n):
        head = (entries[-1].seq, entries[-1].hash) if entries else None
        entries.append(next_entry(head, f"2026-12-01T00:00:{i:02d}.000000Z", record(i)))
    return entries


def signed(entries: list[ChainEntry], *seqs: int) -> list[Checkpoint]:
    return [SIGNER.sign(s, entries[s - 1].hash) for s in seqs]


def problem(entries: list[ChainEntry], checkpoints: list[Checkpoint]) -> str | None:
    return check_chain(entries, checkpoints, KEY.public_key()).problem


def rehashed(entry: ChainEntry, **changes: object) -> ChainEntry:
    changed = entry.model_copy(update=changes)
    return changed.model_copy(update={"hash": changed.computed_hash()})


def test_an_entry_hashes_its_canonical_json_and_links_to_the_previous() -> None:
    entries = chain(3)
    body = {k: v for k, v in entries[1].model_dump(mode="json").items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert entries[1].hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert entries[0].prev_hash == GENESIS_HASH and entries[0].seq == 1
    assert entries[1].prev_hash == entries[0].hash and entries[2].prev_hash == entries[1].hash


def test_an_intact_chain_reports_its_head_and_unsigned_tail() -> None:
    entries = chain(12)
    report = check_chain(entries, signed(entries, 5, 10), KEY.public_key())
    assert report.intact and report.entries == 12 and report.head_seq == 12
    assert report.last_checkpoint is not None and report.last_checkpoint.seq == 10
    assert report.unsigned_tail == 2


def test_an_edited_entry_is_named() -> None:
    entries = chain(8)
    entries[2] = entries[2].model_copy(update={"actor": "someone-else"})
    assert (
        problem(entries, signed(entries, 5))
        == "entry 3 altered (its content does not match its hash)"
    )


def test_an_edited_and_rehashed_entry_breaks_the_next_link() -> None:
    entries = chain(8)
    entries[2] = rehashed(entries[2], actor="someone-else")
    assert problem(entries, []) == "entry 3 altered (its hash no longer links to entry 4)"


def test_a_removed_entry_is_named_with_or_without_renumbering() -> None:
    entries = chain(8)
    assert problem(entries[:3] + entries[4:], []) == "entry 4 removed"
    renumbered = entries[:3] + [e.model_copy(update={"seq": e.seq - 1}) for e in entries[4:]]
    assert problem(renumbered, []) == "entry 4 removed (the entries after it were renumbered)"


def test_an_inserted_entry_is_named() -> None:
    entries = chain(8)
    forged = next_entry((3, entries[2].hash), entries[2].at, record(99))
    shifted = [e.model_copy(update={"seq": e.seq + 1}) for e in entries[3:]]
    assert problem([*entries[:3], forged, *shifted], []) == (
        "entry 4 inserted (the entries after it were renumbered)"
    )
    # Appended to a copy that keeps its numbers (a topic): the sequence number repeats.
    assert problem([*entries[:4], forged.model_copy(update={"seq": 4}), *entries[4:]], []) == (
        "entry 4 inserted (sequence number 4 appears twice)"
    )
    stray = forged.model_copy(update={"prev_hash": "f" * 64, "seq": 4})
    stray = rehashed(stray)
    assert problem([*entries[:3], stray, *shifted], []) == (
        "entry 4 inserted (the next entry links past it)"
    )


def test_a_cut_tail_before_the_last_checkpoint_is_caught() -> None:
    entries = chain(12)
    checkpoints = signed(entries, 5, 10)
    assert problem(entries[:7], checkpoints) == (
        "entries 8-10 missing: the tail was cut before checkpoint 10"
    )
    assert problem(entries[:9], checkpoints) == (
        "entry 10 missing: the tail was cut before checkpoint 10"
    )


def test_a_cut_after_the_last_checkpoint_is_what_a_checkpoint_cannot_prove() -> None:
    entries = chain(12)
    report = check_chain(entries[:10], signed(entries, 5, 10), KEY.public_key())
    assert report.intact and report.unsigned_tail == 0  # the two unsigned entries are gone


def test_a_chain_rewritten_from_an_entry_on_is_caught_by_the_checkpoint() -> None:
    entries = chain(12)
    checkpoints = signed(entries, 5, 10)
    rewritten = entries[:6]
    for original in entries[6:]:
        rewritten.append(
            next_entry((rewritten[-1].seq, rewritten[-1].hash), original.at, record(99))
        )
    assert problem(rewritten, checkpoints) == (
        "the chain was rewritten between entries 6 and 10: checkpoint 10 signs another hash"
    )


def test_a_forged_or_foreign_checkpoint_is_refused() -> None:
    entries = chain(6)
    [good] = signed(entries, 5)
    moved = good.model_copy(update={"seq": 4, "hash": entries[3].hash})
    assert problem(entries, [moved]) == "checkpoint 4 has an invalid signature"
    foreign = CheckpointSigner(Ed25519PrivateKey.generate()).sign(5, entries[4].hash)
    assert problem(entries, [foreign]) == (
        f"checkpoint 5 is signed by another key ({foreign.key_id})"
    )


def test_an_exact_resend_is_not_tampering() -> None:
    entries = chain(6)
    checkpoints = signed(entries, 5)
    report = check_chain(
        [*entries[:3], entries[2], *entries[3:]], [*checkpoints, *checkpoints], KEY.public_key()
    )
    assert report.intact and report.entries == 6 and report.checkpoints == 1


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("11010519491231002X", "[id-number]"),
        ("13812345678", "[phone]"),
        ("91350100M000100Y43", "[uscc]"),
    ],
)
def test_the_guard_scrubs_personal_values_and_keeps_the_trace(value: str, kind: str) -> None:
    raw = AuditRecord(actor="psb", action="lookup.served", reason=f"for {value}", target=value)
    clean = guard_record(raw)
    assert clean.reason == f"for {kind}" and clean.target == kind
    assert clean.actor == "psb" and clean.action == "lookup.served"


def test_the_guard_keeps_an_18_character_code_that_is_no_uscc() -> None:
    raw = AuditRecord(actor="psb", action="acl.added", target="91350100M000100Y44")
    assert guard_record(raw) is raw


def test_the_guard_leaves_pseudonyms_and_names_alone() -> None:
    plain = AuditRecord(
        actor="bank01",
        action="lookup.served",
        resource="BR-PERSON",
        fields=("name", "id_number"),
        target="p:3f9a0c1d2e4b5a69",
        records=3,
    )
    assert guard_record(plain) is plain


Tamper = Callable[[list[ChainEntry], int], list[ChainEntry]]


def _alter(entries: list[ChainEntry], k: int) -> list[ChainEntry]:
    return [e.model_copy(update={"records": 7}) if e.seq == k else e for e in entries]


def _remove(entries: list[ChainEntry], k: int) -> list[ChainEntry]:
    return [e for e in entries if e.seq != k]


def _remove_renumbered(entries: list[ChainEntry], k: int) -> list[ChainEntry]:
    return [
        e.model_copy(update={"seq": e.seq - 1}) if e.seq > k else e for e in _remove(entries, k)
    ]


def _insert_renumbered(entries: list[ChainEntry], k: int) -> list[ChainEntry]:
    head = (k - 1, entries[k - 2].hash) if k > 1 else None
    forged = next_entry(head, "2026-12-01T00:00:00.000000Z", record(99))
    shifted = [e.model_copy(update={"seq": e.seq + 1}) for e in entries[k - 1 :]]
    return [*entries[: k - 1], forged, *shifted]


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(min_value=2, max_value=25),
    where=st.floats(min_value=0, max_value=1, exclude_max=True),
    tamper=st.sampled_from([_alter, _remove, _remove_renumbered, _insert_renumbered]),
)
def test_any_single_tampering_is_named_at_its_entry(n: int, where: float, tamper: Tamper) -> None:
    entries = chain(n)
    k = 1 + int(where * (n - 1))  # 1..n-1: the last entry has no follower to betray it
    found = problem(tamper(entries, k), signed(entries, n))
    assert found is not None and (found.startswith(f"entry {k} ") or f"entries {k}-" in found)
