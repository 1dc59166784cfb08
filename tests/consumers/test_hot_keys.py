"""Hot keys (issue 9 §9): the events of a key that comes several times in a batch are
folded in memory and the key is written once (`govbus.consumers._key_merge`), with the
same result as applying them one by one (the reference model): values, deleted flags,
every field's sequence, stale and duplicate counts; on both backends, with the native row
builder and without. And what the database judges: only what is written."""

from __future__ import annotations

import sqlite3
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govbus import Catalog, ChangeEvent, EntityKind, PersonChanged, PersonData
from govbus.consumers import KafkaPosition, RejectedRecord, SourcedEvent, apply_batch, open_store
from govbus.consumers.testing import (
    MARRIAGE,
    ReferenceModel,
    Refusing,
    certificate,
    citizen_id,
    person,
    store_sequences,
    store_state,
)

TOPIC = "govbus.base.person"
KEYS = [citizen_id(700 + i) for i in range(2)]
FIELDS: dict[str, tuple[str, ...]] = {
    "PSB": ("name", "sex", "birth_date"),
    "CAB": ("marital_status",),
    "EDU": ("education",),
}


def sourced(events: list[ChangeEvent[Any]], first: int = 0) -> list[SourcedEvent]:
    return [
        SourcedEvent(e, KafkaPosition(TOPIC, 0, offset)) for offset, e in enumerate(events, first)
    ]


@st.composite
def _event(draw: st.DrawFn) -> ChangeEvent[Any]:
    key = draw(st.sampled_from(KEYS))
    sequence = draw(st.integers(0, 30))
    if draw(st.integers(0, 7)) == 0:
        department = draw(st.sampled_from(["PSB", "PSB", "CAB"]))  # CAB's delete: refused
        return PersonChanged.delete(department=department, key=key, sequence=sequence)
    department = draw(st.sampled_from(sorted(FIELDS)))
    names = draw(st.lists(st.sampled_from(FIELDS[department]), unique=True))
    n = draw(st.integers(0, 99))
    values: dict[str, Any] = {}
    for name in names:
        if n % 9 == 0:
            values[name] = None
        elif name == "birth_date":
            values[name] = date(1980, 1, 1 + n % 28)
        elif name == "sex":
            values[name] = "12"[n % 2]
        else:
            values[name] = f"{name}-{n}"
    data = PersonData(**values)
    return PersonChanged.upsert(department=department, key=key, sequence=sequence, data=data)


@st.composite
def _batches(draw: st.DrawFn) -> list[list[ChangeEvent[Any]]]:
    """A few batches, each with many events on two keys, retries within and across them."""
    seen: list[ChangeEvent[Any]] = []
    batches = []
    for _ in range(draw(st.integers(1, 3))):
        batch = []
        for event in draw(st.lists(_event(), min_size=1, max_size=40)):
            batch.append(event)
            seen.append(event)
            if draw(st.integers(0, 7)) == 0:
                batch.append(draw(st.sampled_from(seen)))  # an outbox retry
        batches.append(batch)
    return batches


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=_batches())
@pytest.mark.parametrize("native", [True, False], ids=["native", "python"])
def test_merged_hot_keys_equal_the_one_by_one_model(
    store_url: str, catalog: Catalog, native: bool, batches: list[list[ChangeEvent[Any]]]
) -> None:
    model = ReferenceModel(catalog)
    store = open_store(store_url)
    store.reset()
    try:
        stale = duplicates = offset = 0
        for batch in batches:
            for event in batch:
                model.apply(event)
            result = apply_batch(
                store, sourced(batch, offset), catalog=catalog, group="h", native=native
            )
            offset += len(batch)
            stale += result.stale_fields
            duplicates += result.duplicate_events
        kind = EntityKind.PERSON
        assert store_state(store, kind) == model.expected(kind)
        assert store_sequences(store, kind) == model.sequences(kind)
        assert stale == model.stale_fields
        assert duplicates == offset - len(model.seen)
    finally:
        store.close()


def test_a_hot_key_is_written_once(tmp_path: Path, catalog: Catalog) -> None:
    """1000 updates of one key in one batch: one write of its row (before: 1000)."""
    store = open_store(f"sqlite:///{tmp_path / 'base.db'}")
    key = citizen_id(1)
    apply_batch(store, sourced([person(key, 0, name="before")]), catalog=catalog, group="h")
    writes: list[str] = []
    conn: sqlite3.Connection = store._conn  # type: ignore[attr-defined]
    conn.set_trace_callback(
        lambda sql: writes.append(sql) if sql.startswith("INSERT INTO persons") else None
    )
    events = [person(key, i, name=f"n{i}", residence_address=f"a{i}") for i in range(1, 1001)]
    result = apply_batch(store, sourced(events, 1), catalog=catalog, group="h")
    conn.set_trace_callback(None)
    assert len(writes) == 1
    assert (result.applied_events, result.stale_fields) == (1000, 0)
    record = store.record(EntityKind.PERSON, key)
    assert record is not None
    assert (record.values["name"], record.values["residence_address"]) == ("n1000", "a1000")
    assert {p.field: p.source_sequence for p in record.provenance} == {
        "name": 1000,
        "residence_address": 1000,
    }
    store.close()


def test_a_hot_certificate_keeps_its_json_and_holder_link(store_url: str, catalog: Catalog) -> None:
    store = open_store(store_url)
    holder = citizen_id(3)
    number = "J110105-2020-000009"
    events: list[ChangeEvent[Any]] = [
        person(holder, 1, name="持证人"),
        certificate(MARRIAGE, number, 1, "CAB", holder_id=holder, holder_type="person"),
        certificate(MARRIAGE, number, 3, "CAB", attributes={"spouse": "x", "n": "3"}),
        certificate(MARRIAGE, number, 2, "CAB", attributes={"spouse": "stale"}),
        certificate(MARRIAGE, number, 4, "CAB", status="valid", issue_date=date(2020, 5, 1)),
    ]
    topic = "govbus.base.certificate"
    items = [SourcedEvent(e, KafkaPosition(topic, 0, i)) for i, e in enumerate(events)]
    result = apply_batch(store, items, catalog=catalog, group="h")
    assert (result.applied_events, result.stale_fields) == (5, 1)
    record = store.record(EntityKind.CERTIFICATE, events[1].entity_key)
    assert record is not None and record.holder_known is True
    assert record.values["attributes"] == {"spouse": "x", "n": "3"}
    assert (record.values["status"], record.values["issue_date"]) == ("valid", date(2020, 5, 1))
    assert record.values["holder_id"] == holder
    store.close()


def test_the_database_judges_only_what_is_written(refusing: Refusing, catalog: Catalog) -> None:
    """A refused value that a newer one of its batch replaces is never sent: not refused.
    A refused value that is written is: its whole event is dead-lettered, and the rest of
    the key's events are merged again without it."""
    store, poison = refusing.store, refusing.poison
    key = citizen_id(1)
    replaced = [person(key, 1, name=poison), person(key, 2, name="good")]
    result = apply_batch(store, sourced(replaced), catalog=catalog, group="g")
    assert (result.applied_events, result.store_refused) == (2, [])
    written = [
        person(key, 3, name="three"),
        person(key, 5, name=poison, sex="2"),
        person(key, 4, sex="1", name="four"),
        person(key, 6, marital_status="married", department="CAB"),
    ]
    dead: list[list[RejectedRecord]] = []
    result = apply_batch(
        store, sourced(written, 2), catalog=catalog, group="g", dead_letter=dead.append
    )
    assert [r.position.offset for r in result.store_refused] == [3]
    assert dead == [result.store_refused] and result.applied_events == 3
    model = ReferenceModel(catalog)
    for event in [*replaced, *written[:1], *written[2:]]:
        model.apply(event)
    assert store_state(store, EntityKind.PERSON) == model.expected(EntityKind.PERSON)
    assert store_sequences(store, EntityKind.PERSON) == model.sequences(EntityKind.PERSON)
    assert store.stored_offsets("g") == {(TOPIC, 0): 6}
