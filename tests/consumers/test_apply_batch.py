"""apply_batch on both backends: ordering, staleness, nulls, dedup, authority, deletes,
certificates and their holder links, offsets and quarantine."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest

from govbus import Catalog, ChangeEvent, EntityKind, ErrorCode, GovbusError, PersonChanged
from govbus.consumers import (
    BatchResult,
    KafkaPosition,
    RejectedRecord,
    SourcedEvent,
    Store,
    apply_batch,
    open_store,
)
from govbus.consumers._certificates import Validity, certificate_validity
from govbus.consumers._store import StoreConflict
from govbus.consumers._store_retry import StoreRetry
from govbus.consumers.testing import (
    BUSINESS_LICENCE,
    MARRIAGE,
    ReferenceModel,
    certificate,
    citizen_id,
    legal_entity,
    person,
    store_state,
    uscc,
)

TOPIC = "govbus.base.person"


class Feed:
    """Hands out consecutive offsets per partition, like a Kafka partition would."""

    def __init__(self) -> None:
        self.next: dict[tuple[str, int], int] = {}

    def items(
        self, *events: ChangeEvent[Any], topic: str = TOPIC, partition: int = 0
    ) -> list[SourcedEvent]:
        out = []
        for event in events:
            offset = self.next.get((topic, partition), 0)
            self.next[(topic, partition)] = offset + 1
            out.append(SourcedEvent(event, KafkaPosition(topic, partition, offset)))
        return out


def apply(store: Store, catalog: Catalog, items: Sequence[Any]) -> BatchResult:
    return apply_batch(store, items, catalog=catalog, group="test")


def values(store: Store, kind: EntityKind, key: str) -> dict[str, Any]:
    record = store.record(kind, key)
    assert record is not None
    return record.values


def test_upsert_creates_record_with_provenance(store: Store, catalog: Catalog) -> None:
    key = citizen_id(1)
    event = person(key, 1, name="张三", sex="1", birth_date=date(1990, 5, 1))
    result = apply(store, catalog, Feed().items(event))
    assert result.applied_events == 1
    record = store.record(EntityKind.PERSON, key)
    assert record is not None and not record.deleted
    assert record.values["name"] == "张三"
    assert record.values["birth_date"] == date(1990, 5, 1)
    assert record.values["phone"] is None
    by_field = {p.field: p for p in record.provenance}
    assert set(by_field) == {"name", "sex", "birth_date"}
    assert by_field["name"].event_id == event.event_id
    assert by_field["name"].source_department == "PSB"
    assert by_field["name"].source_sequence == 1


def test_stale_update_never_overwrites_newer_value(store: Store, catalog: Catalog) -> None:
    key, feed = citizen_id(2), Feed()
    apply(store, catalog, feed.items(person(key, 5, name="new")))
    result = apply(store, catalog, feed.items(person(key, 3, name="old")))
    assert result.stale_fields == 1
    assert values(store, EntityKind.PERSON, key)["name"] == "new"
    # Equal sequence is not newer either; within one batch the order of arrival is irrelevant.
    apply(store, catalog, feed.items(person(key, 9, name="nine"), person(key, 5, name="five")))
    assert values(store, EntityKind.PERSON, key)["name"] == "nine"


def test_per_field_sequences_are_independent(store: Store, catalog: Catalog) -> None:
    key, feed = citizen_id(3), Feed()
    apply(
        store,
        catalog,
        feed.items(
            person(key, 10, name="a", residence_address="北京市东城区"),
            person(key, 11, name="b"),
            person(key, 10, "CAB", marital_status="20"),
            person(key, 4, "HRSS", phone="13800000000"),
        ),
    )
    got = values(store, EntityKind.PERSON, key)
    assert got["name"] == "b"
    assert got["residence_address"] == "北京市东城区"
    assert got["marital_status"] == "20"
    assert got["phone"] == "13800000000"


def test_set_to_null_differs_from_untouched(store: Store, catalog: Catalog) -> None:
    key, feed = citizen_id(4), Feed()
    apply(store, catalog, feed.items(person(key, 1, "HRSS", phone="13800000000")))
    apply(store, catalog, feed.items(person(key, 1, name="x")))  # PSB: phone untouched
    assert values(store, EntityKind.PERSON, key)["phone"] == "13800000000"
    apply(store, catalog, feed.items(person(key, 2, "HRSS", phone=None)))
    record = store.record(EntityKind.PERSON, key)
    assert record is not None and record.values["phone"] is None and record.values["name"] == "x"
    assert {p.field: p.source_sequence for p in record.provenance}["phone"] == 2


def test_duplicate_event_id_is_applied_once(store: Store, catalog: Catalog) -> None:
    key, feed = citizen_id(5), Feed()
    event = person(key, 1, name="once")
    result = apply(store, catalog, feed.items(event, event))
    assert (result.applied_events, result.duplicate_events) == (1, 1)
    # A retry at a later offset, in a later batch: still a duplicate.
    result = apply(store, catalog, feed.items(event))
    assert (result.applied_events, result.duplicate_events) == (0, 1)
    assert store.processed_count() == 1


def test_field_from_non_authoritative_department_is_refused(store: Store, catalog: Catalog) -> None:
    key, feed = citizen_id(6), Feed()
    result = apply(store, catalog, feed.items(person(key, 1, "PSB", phone="13800000000")))
    assert result.refused_fields == 1
    assert values(store, EntityKind.PERSON, key)["phone"] is None


def test_replayed_offsets_are_skipped_and_offsets_stored(store: Store, catalog: Catalog) -> None:
    key = citizen_id(7)
    first = [
        SourcedEvent(person(key, i, name=f"v{i}"), KafkaPosition(TOPIC, 2, i)) for i in range(3)
    ]
    apply(store, catalog, first)
    assert store.stored_offsets("test") == {(TOPIC, 2): 3}
    # A rebalance redelivers offsets 1..4: only 3 and 4 are new.
    again = [
        SourcedEvent(person(key, 10 + i, name=f"r{i}"), KafkaPosition(TOPIC, 2, i))
        for i in range(1, 5)
    ]
    result = apply(store, catalog, again)
    assert result.replayed_records == 2
    assert values(store, EntityKind.PERSON, key)["name"] == "r4"
    assert store.stored_offsets("test") == {(TOPIC, 2): 5}
    assert store.stored_offsets("other-group") == {}


def test_rejected_records_are_quarantined_with_their_offset(store: Store, catalog: Catalog) -> None:
    rejected = RejectedRecord(
        KafkaPosition(TOPIC, 0, 0),
        "MALFORMED_PAYLOAD",
        "payload of 3 bytes has no wire header",
        [("ce_id", "x")],
        b"k",
        b"bad",
    )
    good = SourcedEvent(person(citizen_id(8), 1, name="ok"), KafkaPosition(TOPIC, 0, 1))
    result = apply(store, catalog, [rejected, good])
    assert (result.quarantined, result.applied_events) == (1, 1)
    [row] = store.quarantined()
    assert (row.topic, row.partition, row.offset, row.error_code) == (
        TOPIC,
        0,
        0,
        "MALFORMED_PAYLOAD",
    )
    assert row.record_value == b"bad" and row.headers == [("ce_id", "x")]
    assert store.stored_offsets("test") == {(TOPIC, 0): 2}


def test_delete_is_a_tombstone_that_stale_upserts_cannot_undo(
    store: Store, catalog: Catalog
) -> None:
    key, feed = citizen_id(9), Feed()
    apply(
        store,
        catalog,
        feed.items(person(key, 1, name="a"), person(key, 1, "CAB", marital_status="10")),
    )
    delete = PersonChanged.delete(department="PSB", key=key, sequence=5)
    apply(store, catalog, feed.items(delete))
    record = store.record(EntityKind.PERSON, key)
    assert record is not None and record.deleted
    assert all(v is None for v in record.values.values())
    assert {p.field: p.event_id for p in record.provenance}["_record"] == delete.event_id
    apply(store, catalog, feed.items(person(key, 4, name="stale")))
    record = store.record(EntityKind.PERSON, key)
    assert record is not None and record.deleted and record.values["name"] is None
    # Only the key authority may delete.
    result = apply(
        store, catalog, feed.items(PersonChanged.delete(department="CAB", key=key, sequence=9))
    )
    assert result.refused_fields == 1
    apply(store, catalog, feed.items(person(key, 6, name="back")))
    record = store.record(EntityKind.PERSON, key)
    assert record is not None and not record.deleted and record.values["name"] == "back"


def test_certificate_holder_link_resolves_when_holder_arrives(
    store: Store, catalog: Catalog
) -> None:
    holder, feed = citizen_id(10), Feed()
    today = date.today()
    cert = certificate(
        MARRIAGE,
        "J110105-2020-000001",
        1,
        "CAB",
        holder_id=holder,
        holder_type="person",
        valid_from=today - timedelta(days=10),
        status="valid",
    )
    apply(store, catalog, feed.items(cert, topic="govbus.base.certificate"))
    record = store.record(EntityKind.CERTIFICATE, cert.entity_key)
    assert record is not None and record.holder_known is False
    assert certificate_validity(record, today).validity is Validity.HOLDER_UNKNOWN

    apply(store, catalog, feed.items(person(holder, 1, name="持证人")))
    record = store.record(EntityKind.CERTIFICATE, cert.entity_key)
    assert record is not None and record.holder_known is True
    assert certificate_validity(record, today).is_valid

    apply(
        store, catalog, feed.items(PersonChanged.delete(department="PSB", key=holder, sequence=2))
    )
    record = store.record(EntityKind.CERTIFICATE, cert.entity_key)
    assert record is not None and record.holder_known is False


def test_certificate_validity_is_computed_at_query_time(store: Store, catalog: Catalog) -> None:
    company, feed = uscc(1), Feed()
    cert = certificate(
        BUSINESS_LICENCE,
        "N1",
        1,
        "AMR",
        holder_id=company,
        holder_type="legal_entity",
        valid_from=date(2020, 1, 1),
        valid_to=date(2030, 12, 31),
        status="valid",
    )
    apply(store, catalog, feed.items(legal_entity(company, 1, name="某公司")))
    apply(store, catalog, feed.items(cert, topic="govbus.base.certificate"))
    record = store.record(EntityKind.CERTIFICATE, cert.entity_key)
    assert record is not None and record.holder_known
    assert certificate_validity(record, date(2030, 12, 31)).is_valid
    verdict = certificate_validity(record, date(2031, 1, 1))
    assert verdict.validity is Validity.EXPIRED and "2030-12-31" in verdict.reason
    assert certificate_validity(record, date(2019, 6, 1)).validity is Validity.NOT_YET_VALID
    revoke = certificate(BUSINESS_LICENCE, "N1", 2, "AMR", status="revoked")
    apply(store, catalog, feed.items(revoke, topic="govbus.base.certificate"))
    record = store.record(EntityKind.CERTIFICATE, cert.entity_key)
    assert record is not None
    assert certificate_validity(record, date(2025, 1, 1)).validity is Validity.REVOKED


@pytest.mark.parametrize(
    ("n_keys", "n_events", "max_batch"),
    [
        (8, 400, 50),  # many events per key and batch: many small rounds
        (300, 4000, 900),  # big first rounds (PostgreSQL: COPY) then small ones
    ],
)
def test_random_batches_equal_reference_model(
    store_url: str, catalog: Catalog, n_keys: int, n_events: int, max_batch: int
) -> None:
    """Random events with duplicates, reordering and deletes, cut into random batches."""
    rng = random.Random(7)
    keys = [citizen_id(100 + i) for i in range(n_keys)]
    departments = {"name": "PSB", "marital_status": "CAB", "education": "EDU", "phone": "HRSS"}
    events: list[ChangeEvent[Any]] = []
    for _ in range(n_events):
        key = rng.choice(keys)
        if rng.random() < 0.05:
            events.append(
                PersonChanged.delete(department="PSB", key=key, sequence=rng.randint(0, 60))
            )
            continue
        fld = rng.choice(list(departments))
        value = None if rng.random() < 0.1 else f"{fld}-{rng.randint(0, 999)}"
        if fld == "phone" and value is not None:
            value = f"139{rng.randint(0, 99999999):08d}"
        events.append(person(key, rng.randint(0, 60), departments[fld], **{fld: value}))
        if rng.random() < 0.1:
            events.append(rng.choice(events))  # an outbox retry
    model = ReferenceModel(catalog)
    for event in events:
        model.apply(event)
    store = open_store(store_url)
    try:
        items = Feed().items(*events)
        start = 0
        while start < len(items):
            size = rng.randint(1, max_batch)
            apply(store, catalog, items[start : start + size])
            start += size
        assert store_state(store, EntityKind.PERSON) == model.expected(EntityKind.PERSON)
    finally:
        store.close()


def test_migrations_run_once(store_url: str) -> None:
    open_store(store_url).close()
    reopened = open_store(store_url)  # second start: nothing to migrate, nothing fails
    assert reopened.count(EntityKind.PERSON) == 0
    reopened.close()


def test_postgres_key_list_is_one_text_unless_a_key_holds_the_separator() -> None:
    from govbus.consumers._postgres_records import any_key

    assert any_key(["a", "b"]) == ("ANY(string_to_array(%s, chr(31)))", "a\x1fb")
    assert any_key(["a\x1fb", "c"]) == ("ANY(%s)", ["a\x1fb", "c"])


class ConflictingStore:
    """The real store, but its first `conflicts` transactions lose to a rival at commit."""

    def __init__(self, store: Store, conflicts: int) -> None:
        self.store = store
        self.conflicts = conflicts
        self.transactions = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    @contextmanager
    def transaction(self, *, native: bool = True) -> Iterator[Any]:
        self.transactions += 1
        with self.store.transaction(native=native) as tx:
            yield tx
            if self.conflicts:
                self.conflicts -= 1
                raise StoreConflict("DeadlockDetected")  # rolls the real transaction back


def test_a_batch_that_loses_to_a_concurrent_transaction_is_applied_once_on_retry(
    store: Store, catalog: Catalog
) -> None:
    feed = Feed()
    events = [person(citizen_id(n), 1, name=f"n{n}") for n in range(20)]
    flaky = ConflictingStore(store, conflicts=2)
    result = apply_batch(flaky, feed.items(*events), catalog=catalog, group="test")  # type: ignore[arg-type]
    assert flaky.transactions == 3
    assert result.applied_events == 20
    assert store.processed_count() == 20
    assert store.stored_offsets("test") == {(TOPIC, 0): 20}
    assert values(store, EntityKind.PERSON, citizen_id(7))["name"] == "n7"


def test_a_batch_that_keeps_losing_raises_and_commits_nothing(
    store: Store, catalog: Catalog
) -> None:
    flaky = ConflictingStore(store, conflicts=99)
    with pytest.raises(GovbusError) as caught:
        apply_batch(  # type: ignore[arg-type]
            flaky,
            Feed().items(person(citizen_id(1), 1, name="x")),
            catalog=catalog,
            group="test",
            retry=StoreRetry(max_attempts=2, first_delay=0.001),
        )
    assert caught.value.code is ErrorCode.STORE_UNAVAILABLE
    assert "StoreConflict" in caught.value.message and flaky.transactions == 2
    assert store.processed_count() == 0
    assert store.record(EntityKind.PERSON, citizen_id(1)) is None
