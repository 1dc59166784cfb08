"""The merge statements by shape and generic, and hot keys merged in memory, give exactly
what applying the events one by one gives (the reference model): values, deleted flags, the
sequence of every field's provenance, stale and duplicate counts. Randomized: hot keys
(three keys: most batches repeat them), events from several departments setting random
subsets of their fields, deletes, restores, retries, with the thresholds that pick a
shape's own statement, the generic one or COPY (hot keys' rows too) moved around, with the
native row builder and COPY encoder and without."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from govbus import Catalog, ChangeEvent, EntityKind, PersonChanged, PersonData
from govbus.consumers import KafkaPosition, SourcedEvent, Store, apply_batch, open_store
from govbus.consumers.testing import (
    ReferenceModel,
    citizen_id,
    store_sequences,
    store_state,
)

FIELDS: dict[str, tuple[str, ...]] = {
    "PSB": ("name", "sex", "birth_date", "residence_address"),
    "CAB": ("marital_status", "death_date"),
    "EDU": ("education",),
}
KEYS = [citizen_id(500 + i) for i in range(3)]


def _value(name: str, n: int) -> Any:
    if n % 7 == 0:
        return None  # set to null
    if name.endswith("_date"):
        return date(1990, 1, 1 + n % 28)
    if name == "sex":
        return "12"[n % 2]
    return f"{name}-{n}"


@st.composite
def _event(draw: st.DrawFn) -> ChangeEvent[Any]:
    key = draw(st.sampled_from(KEYS))
    sequence = draw(st.integers(0, 12))
    if draw(st.integers(0, 9)) == 0:
        return PersonChanged.delete(department="PSB", key=key, sequence=sequence)
    department = draw(st.sampled_from(sorted(FIELDS)))
    own = FIELDS[department]
    names = draw(st.lists(st.sampled_from(own), unique=True, max_size=len(own)))
    if draw(st.booleans()):  # a field of another department: refused
        names.append("phone")
    n = draw(st.integers(0, 50))
    data = PersonData(**{name: _value(name, n) for name in names if name != "phone"})
    if "phone" in names:
        data = PersonData(**data.model_dump(exclude_unset=True), phone="13900000000")
    return PersonChanged.upsert(department=department, key=key, sequence=sequence, data=data)


@st.composite
def _stream(draw: st.DrawFn) -> list[ChangeEvent[Any]]:
    events: list[ChangeEvent[Any]] = []
    for event in draw(st.lists(_event(), min_size=1, max_size=60)):
        events.append(event)
        if draw(st.integers(0, 9)) == 0:  # an outbox retry, maybe in a later batch
            events.append(draw(st.sampled_from(events)))
    return events


@pytest.fixture
def fresh_store(store_url: str, tmp_path: Path) -> Iterator[Any]:
    """A function opening an empty store of the parametrized backend for each example."""
    opened: list[Store] = []

    def make() -> Store:
        if store_url.startswith("sqlite"):
            store = open_store(f"sqlite:///{tmp_path / uuid.uuid4().hex}.db")
        else:
            store = open_store(store_url)
            store.reset()
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    events=_stream(),
    cuts=st.lists(st.integers(1, 40), min_size=1, max_size=8),
    shaped_from=st.sampled_from([1, 2, 3, 1000]),
    copy_from=st.sampled_from([1, 2, 1000]),
)
@pytest.mark.parametrize("native", [True, False], ids=["native", "python"])
def test_shapes_generic_and_rounds_equal_one_by_one(
    fresh_store: Any,
    catalog: Catalog,
    monkeypatch: pytest.MonkeyPatch,
    native: bool,
    events: list[ChangeEvent[Any]],
    cuts: list[int],
    shaped_from: int,
    copy_from: int,
) -> None:
    from govbus.consumers import _postgres_store, _sqlite_store

    # Both row builders (`govbus.consumers._native_rows` and the Python loop) against the model.
    monkeypatch.setattr(_sqlite_store, "_SHAPED_FROM", shaped_from)
    monkeypatch.setattr(_postgres_store, "_SHAPED_FROM", shaped_from)
    monkeypatch.setattr(_postgres_store, "_COPY_FROM", copy_from)
    model = ReferenceModel(catalog)
    for event in events:
        model.apply(event)
    store = fresh_store()
    items = [
        SourcedEvent(event, KafkaPosition("govbus.base.person", 0, offset))
        for offset, event in enumerate(events)
    ]
    stale = duplicates = 0
    start, i = 0, 0
    while start < len(items):
        size = cuts[i % len(cuts)]
        batch = items[start : start + size]
        result = apply_batch(store, batch, catalog=catalog, group="t", native=native)
        stale += result.stale_fields
        duplicates += result.duplicate_events
        start, i = start + size, i + 1
    kind = EntityKind.PERSON
    assert store_state(store, kind) == model.expected(kind)
    assert store_sequences(store, kind) == model.sequences(kind)
    assert stale == model.stale_fields
    assert duplicates == len(events) - len(model.seen)
