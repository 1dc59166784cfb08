"""Records the store refuses, on both backends: found by bisection, quarantined as
STORE_REFUSED, handed to the dead-letter callback, and the rest of the batch applied with
every offset. The end state is what applying only the good records would give."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govbus import Catalog, ChangeEvent, EntityKind, ErrorCode, GovbusError, PersonChanged
from govbus.consumers import KafkaPosition, RejectedRecord, SourcedEvent, apply_batch, open_store
from govbus.consumers._batch_items import RawRecord
from govbus.consumers._refusals import NOT_STORABLE
from govbus.consumers.testing import (
    ReferenceModel,
    Refusing,
    citizen_id,
    person,
    refuse_in_store,
    store_sequences,
    store_state,
)

TOPIC = "govbus.base.person"


def sourced(events: list[ChangeEvent[Any]], first_offset: int = 0) -> list[SourcedEvent]:
    """Events as read from partition 0, each with the raw record it came from."""
    items = []
    for offset, event in enumerate(events, first_offset):
        position = KafkaPosition(TOPIC, 0, offset)
        name = getattr(event.data, "name", None) or ""
        raw = RawRecord(
            position,
            key=event.entity_key.encode(),
            value=b"\x00\x00\x00\x00\x01" + name.encode(),  # carries the value, as Avro does
            headers=[("ce_id", str(event.event_id).encode())],
        )
        items.append(SourcedEvent(event, position, raw))
    return items


def test_a_refused_record_between_good_ones_is_quarantined_and_the_rest_applied(
    refusing: Refusing, catalog: Catalog
) -> None:
    store, poison = refusing.store, refusing.poison
    key, other = citizen_id(1), citizen_id(2)
    events: list[ChangeEvent[Any]] = [
        person(key, 1, name="first"),
        person(other, 1, name="other"),
        person(key, 2, name=poison, sex="2"),  # refused: its sex must not land either
        person(key, 3, sex="1"),
        person(other, 2, name="other two"),
    ]
    dead: list[list[RejectedRecord]] = []
    result = apply_batch(
        store, sourced(events), catalog=catalog, group="g", dead_letter=dead.append
    )

    assert result.applied_events == 4 and result.quarantined == 1
    assert [r.position.offset for r in result.store_refused] == [2]
    assert dead == [result.store_refused]
    refused = result.store_refused[0]
    assert refused.error_code == ErrorCode.STORE_REFUSED
    assert refused.reason.startswith("the store refused the record: ")
    assert refused.headers == [("ce_id", str(events[2].event_id))]

    model = ReferenceModel(catalog)
    for event in events[:2] + events[3:]:
        model.apply(event)
    assert store_state(store, EntityKind.PERSON) == model.expected(EntityKind.PERSON)
    assert store_sequences(store, EntityKind.PERSON) == model.sequences(EntityKind.PERSON)
    assert store.processed_count() == 4  # the refused event's id is not taken
    assert store.stored_offsets("g") == {(TOPIC, 0): 5}

    (row,) = store.quarantined()
    assert (row.offset, row.error_code) == (2, "STORE_REFUSED")
    for personal in (key, poison, "first"):
        assert personal not in row.reason
    if refusing.rule == "too-big":  # the bytes are as refused as the record: kept in the DLQ
        assert row.reason.endswith(NOT_STORABLE) and row.record_value is None
    else:
        assert row.record_value == sourced(events)[2].raw.value  # type: ignore[union-attr]
        assert row.reason == refused.reason

    # The partition flows on, and a replay of the batch (a restart) refuses nothing again.
    later = apply_batch(store, sourced(events), catalog=catalog, group="g")
    assert later.replayed_records == 5 and later.quarantined == 0 and not later.store_refused
    more = apply_batch(
        store, sourced([person(key, 4, name="after")], 5), catalog=catalog, group="g"
    )
    assert more.applied_events == 1
    record = store.record(EntityKind.PERSON, key)
    assert record is not None and record.values["name"] == "after"
    assert len(store.quarantined()) == 1


@pytest.mark.postgres
def test_postgres_names_the_refusal_without_the_values(pg_database: str, catalog: Catalog) -> None:
    store = open_store(pg_database)
    poison = refuse_in_store(store, "check")
    key = citizen_id(5)
    # Many rows of one shape: they go through COPY, and the CHECK echoes the failing row.
    events = [person(citizen_id(100 + i), 1, name=f"n{i}") for i in range(60)]
    events.insert(30, person(key, 1, name=poison, household_address="北京市朝阳区某街1号"))
    result = apply_batch(store, sourced(events), catalog=catalog, group="g")
    assert result.applied_events == 60
    (refused,) = result.store_refused
    assert refused.reason == (
        "the store refused the record: CheckViolation (SQLSTATE 23514): "
        'new row for relation "…" violates check constraint "…": '
        "table persons, constraint site_rule"
    )
    store.close()


@pytest.mark.postgres
def test_postgres_nul_is_refused_by_copy_and_by_statements(
    pg_database: str, catalog: Catalog
) -> None:
    store = open_store(pg_database)
    big = [person(citizen_id(i), 1, name=f"n{i}") for i in range(80)]  # COPY
    big[10] = person(citizen_id(10), 1, name="a\x00b")
    small = [person(citizen_id(200 + i), 1, name=f"s{i}") for i in range(3)]  # statements
    small[1] = person(citizen_id(201), 1, name="c\x00d")
    first = apply_batch(store, sourced(big), catalog=catalog, group="g")
    second = apply_batch(store, sourced(small, 80), catalog=catalog, group="g")
    assert (first.applied_events, second.applied_events) == (79, 2)
    # The batch's COPY fails on the server (SQLSTATE 22021); the record alone is sent as a
    # statement, which psycopg refuses before sending: that is the record's reason.
    reasons = [r.reason for r in (*first.store_refused, *second.store_refused)]
    nul = "the store refused the record: DataError: PostgreSQL text fields cannot contain NUL"
    assert reasons == [f"{nul} (0x00) bytes"] * 2
    assert store.stored_offsets("g") == {(TOPIC, 0): 83}
    assert store.count(EntityKind.PERSON) == 81
    store.close()


def _rejected_with(value: bytes, header: str, offset: int) -> RejectedRecord:
    return RejectedRecord(
        KafkaPosition(TOPIC, 0, offset),
        "MALFORMED_PAYLOAD",
        "undecodable (ValueError)",
        [("trace", header)],
        b"k",
        value,
    )


@pytest.mark.parametrize(
    "refusing",
    ["sqlite-too-big", pytest.param("postgresql-nul", marks=pytest.mark.postgres)],
    indirect=True,
)
def test_a_rejection_whose_bytes_the_store_refuses_is_quarantined_without_them(
    refusing: Refusing, catalog: Catalog
) -> None:
    """A NUL in a header (PostgreSQL's JSON refuses it), a value above SQLite's limit."""
    store = refusing.store
    unstorable = _rejected_with(
        value=refusing.poison.encode(), header="a\x00b" if refusing.rule == "nul" else "h", offset=1
    )
    items: list[Any] = [
        *sourced([person(citizen_id(1), 1, name="good")]),
        unstorable,
        *sourced([person(citizen_id(2), 1, name="good too")], 2),
    ]
    dead: list[list[RejectedRecord]] = []
    result = apply_batch(store, items, catalog=catalog, group="g", dead_letter=dead.append)
    assert result.applied_events == 2 and result.quarantined == 1
    assert not dead and not result.store_refused  # the sync dead-lettered it already
    (row,) = store.quarantined()
    assert row.error_code == "MALFORMED_PAYLOAD"
    assert row.reason == "undecodable (ValueError)" + NOT_STORABLE
    assert (row.headers, row.record_value) == ([], None)
    assert store.stored_offsets("g") == {(TOPIC, 0): 3}


def test_a_trigger_that_rolls_the_whole_transaction_back_stops_the_batch(
    tmp_path: Any, catalog: Catalog
) -> None:
    """RAISE(ROLLBACK) ends SQLite's transaction, savepoints and all: the batch cannot be
    split, so it stops (STORE_FAILED) with nothing committed, rather than go on outside a
    transaction."""
    store = open_store(f"sqlite:///{tmp_path / 'base.db'}")
    store._conn.execute(  # type: ignore[attr-defined]
        "CREATE TRIGGER rolls_back BEFORE INSERT ON persons WHEN NEW.name = 'x' "
        "BEGIN SELECT RAISE(ROLLBACK, 'not here'); END"
    )
    events = [person(citizen_id(1), 1, name="a"), person(citizen_id(2), 1, name="x")]
    with pytest.raises(GovbusError) as caught:
        apply_batch(store, sourced(events), catalog=catalog, group="g")
    assert caught.value.code is ErrorCode.STORE_FAILED
    assert "the database ended the transaction: IntegrityError" in caught.value.message
    assert store.stored_offsets("g") == {} and store.count(EntityKind.PERSON) == 0
    assert store.quarantined() == [] and store.processed_count() == 0
    store.close()


# --- order: the good records alone, one by one ----------------------------------------------


POISON_SEQUENCE = 9
"""Above every other event's (0-8): a poisoned value is the newest of its field."""


@st.composite
def poisoned_batches(draw: st.DrawFn) -> tuple[list[ChangeEvent[Any]], set[uuid.UUID], list[int]]:
    """Upserts, deletes and outbox retries on a few keys (or many: COPY), some poisoned;
    the poisoned event ids; where the batch is cut into consecutive batches.

    The database judges only what is written (`govbus.consumers._key_merge`): a value that
    loses to a newer one of its batch is never sent. So a value the database refuses is
    one that would be written whatever the cuts: a key has at most one poisoned event
    (and its retries), the newest of the key. Values that are never written are judged by
    the sync's own checks, before the store (`tests/consumers/test_unstorable_text.py`).
    """
    keys = [citizen_id(i) for i in range(draw(st.sampled_from([3, 70])))]
    events: list[ChangeEvent[Any]] = []
    poisoned: set[uuid.UUID] = set()
    poisoned_keys: set[str] = set()
    for i in range(draw(st.integers(1, 120))):
        roll = draw(st.integers(0, 19))
        key = draw(st.sampled_from(keys))
        sequence = draw(st.integers(0, POISON_SEQUENCE - 1))
        if roll == 0 and events:
            events.append(draw(st.sampled_from(events)))  # an outbox retry: same event id
        elif roll == 1:
            events.append(PersonChanged.delete(department="PSB", key=key, sequence=sequence))
        elif roll == 2:
            events.append(person(key, sequence, "CAB", marital_status=f"m{i}"))
        elif roll < 6 and key not in poisoned_keys:
            event = person(key, POISON_SEQUENCE, name="POISON", sex="1")
            poisoned.add(event.event_id)
            poisoned_keys.add(key)
            events.append(event)
        else:
            events.append(person(key, sequence, name=f"n{i}"))
    cuts = sorted(draw(st.lists(st.integers(0, len(events)), max_size=2)))
    return events, poisoned, cuts


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batch=poisoned_batches())
def test_refused_records_leave_the_state_the_good_ones_alone_give(
    refusing: Refusing,
    catalog: Catalog,
    batch: tuple[list[ChangeEvent[Any]], set[uuid.UUID], list[int]],
) -> None:
    store = refusing.store
    store.reset()
    events, poisoned, cuts = batch
    events = [_with_name(e, refusing.poison) if e.event_id in poisoned else e for e in events]
    items = sourced(events)
    refused_offsets: list[int] = []
    for start, end in zip([0, *cuts], [*cuts, len(items)], strict=True):
        if start < end:
            result = apply_batch(store, items[start:end], catalog=catalog, group="g")
            refused_offsets += [r.position.offset for r in result.store_refused]

    model = ReferenceModel(catalog)
    for event in events:
        if event.event_id not in poisoned:
            model.apply(event)
    assert store_state(store, EntityKind.PERSON) == model.expected(EntityKind.PERSON)
    assert store_sequences(store, EntityKind.PERSON) == model.sequences(EntityKind.PERSON)
    assert store.processed_count() == len(model.seen)
    expected = [i for i, e in enumerate(events) if e.event_id in poisoned]
    assert refused_offsets == expected
    assert [q.offset for q in store.quarantined()] == expected
    assert store.stored_offsets("g") == {(TOPIC, 0): len(events)}


def _with_name(event: ChangeEvent[Any], name: str) -> ChangeEvent[Any]:
    """The same event (same id), carrying a name the store refuses."""
    data = event.data.model_copy(update={"name": name})
    return event.model_copy(update={"data": data})
