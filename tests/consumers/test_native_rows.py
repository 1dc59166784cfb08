"""The store sync's native hot loop (`native/src/store_rows.rs`) gives exactly what the
Python paths give: the batch's scan (offsets, first events, rejections, merge rows in
their shapes, hot keys' later events, counts) and the binary COPY stream of merge rows."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from psycopg import adapt, postgres, pq
from psycopg._copy_base import format_row_binary

from govbus import Catalog, ChangeEvent, LegalEntityChanged, PersonChanged
from govbus.consumers import KafkaPosition, SourcedEvent, _merge_rows
from govbus.consumers._apply import _Scan, _scan
from govbus.consumers._batch_items import RejectedRecord
from govbus.consumers._native_rows import NativePlan, copy_rows, native_rows_built
from govbus.consumers.testing import MARRIAGE, certificate, citizen_id, legal_entity, person, uscc

pytestmark = pytest.mark.skipif(not native_rows_built(), reason="native store rows not built")


def _mixed_events(rng: random.Random) -> list[ChangeEvent[Any]]:
    """Upserts of several shapes and departments, refused fields, repeated keys, deletes,
    legal entities (decimals, dates), certificates, a non-UTC occurred-at."""
    events: list[ChangeEvent[Any]] = []
    for n in range(300):
        key = citizen_id(rng.randrange(400))  # some repeat: later rounds
        pick = rng.randrange(12)
        if pick < 5:
            events.append(person(key, n, name=f"n{n}", residence_address=f"a{n}"))
        elif pick == 5:
            events.append(person(key, n, name=None, birth_date=date(1980, 1, 1 + n % 28)))
        elif pick == 6:
            events.append(person(key, n, "CAB", marital_status="20", phone="13900000000"))
        elif pick == 7:
            events.append(
                PersonChanged.delete(department=rng.choice(["PSB", "CAB"]), key=key, sequence=n)
            )
        elif pick == 8:
            events.append(
                legal_entity(
                    uscc(rng.randrange(5)),
                    n,
                    name=f"e{n}",
                    registered_capital=Decimal("10.50"),
                    establishment_date=date(2001, 2, 3),
                )
            )
        elif pick == 9:
            events.append(
                certificate(
                    MARRIAGE,
                    f"J{rng.randrange(5)}",
                    n,
                    "CAB",
                    holder_id=key,
                    holder_type="person",
                    status="valid",
                )
            )
        elif pick == 10:
            east = timezone(timedelta(hours=8))
            events.append(
                PersonChanged.upsert(
                    department="PSB",
                    key=key,
                    sequence=n,
                    data=person(key, n, name="x").data,  # type: ignore[arg-type]
                    occurred_at=datetime(2024, 5, 6, 7, 8, 9, 10, tzinfo=east),
                )
            )
        else:
            events.append(LegalEntityChanged.delete(department="AMR", key=uscc(1), sequence=n))
    return events


def _items(rng: random.Random) -> list[SourcedEvent | RejectedRecord]:
    events = _mixed_events(rng)
    items: list[SourcedEvent | RejectedRecord] = []
    for offset, event in enumerate(events):
        position = KafkaPosition(
            rng.choice(["govbus.base.person", "t2"]),
            rng.randrange(3),
            1000 - offset if offset % 5 == 0 else offset,
        )
        if rng.randrange(15) == 0:
            items.append(RejectedRecord(position, "E", "bad", [], None, b"x"))
            continue
        items.append(SourcedEvent(event, position))
        if rng.randrange(10) == 0:  # an outbox retry in the same batch
            items.append(SourcedEvent(rng.choice(events[: offset + 1]), position))
    return items


def _dump(scan: _Scan) -> Any:
    rows = scan.rows
    kinds = {
        kind: (
            list(kind_rows.first.upserts.items()),
            list(kind_rows.first.deletes.items()),
            list(kind_rows.seen.items()),
            list(kind_rows.later.items()),
        )
        for kind, kind_rows in rows.by_kind.items()
    }
    return (
        list(scan.lowest.items()),
        list(scan.next_offsets.items()),
        [(i, id(e)) for i, e in scan.events.items()],
        [id(r) for r in scan.rejected],
        scan.repeats,
        rows.applied_events,
        rows.refused_fields,
        sorted(kinds.items()),
    )


@pytest.mark.parametrize("seed", range(8))
def test_native_scan_equals_python_scan(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    items = _items(random.Random(seed))
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    handed_back: list[ChangeEvent[Any]] = []
    python_add = _merge_rows.BatchRows.add

    def add(rows: _merge_rows.BatchRows, event: ChangeEvent[Any]) -> None:
        handed_back.append(event)
        python_add(rows, event)

    monkeypatch.setattr(_merge_rows.BatchRows, "add", add)
    scanned = _scan(items, catalog, now, native=True)
    native = _dump(scanned)
    assert 0 < len(handed_back) < len(scanned.events)  # both loops took some
    monkeypatch.setattr(_merge_rows.BatchRows, "add", python_add)
    python = _dump(_scan(items, catalog, now, native=False))
    assert native == python


def test_native_scan_takes_the_common_upsert(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Distinct keys, one shape: only the plan's first event goes to Python."""
    handed_back: list[ChangeEvent[Any]] = []
    python_add = _merge_rows.BatchRows.add

    def add(rows: _merge_rows.BatchRows, event: ChangeEvent[Any]) -> None:
        handed_back.append(event)
        python_add(rows, event)

    monkeypatch.setattr(_merge_rows.BatchRows, "add", add)
    items = [
        SourcedEvent(person(citizen_id(i), 1, name=f"n{i}"), KafkaPosition("t", 0, i))
        for i in range(100)
    ]
    scanned = _scan(items, catalog, datetime.now(UTC), native=True)
    assert handed_back == [items[0].event]
    assert scanned.rows.applied_events == 100


def test_the_tuples_the_native_scan_reads_by_position_keep_their_order() -> None:
    # `native/src/store_rows.rs` reads these by index (its SOURCED_*, POSITION_*, PLAN_*).
    assert KafkaPosition._fields == ("topic", "partition", "offset")
    assert SourcedEvent._fields[:2] == ("event", "position")
    assert RejectedRecord._fields[0] == "position"
    assert NativePlan._fields == ("fields", "refused", "rows", "seen")


def test_copy_rows_stay_off_when_switched_off() -> None:
    rows: list[list[Any]] = [["k", 1]]
    assert copy_rows(rows, ["text", "bigint"], native=False) is None
    assert copy_rows(rows, ["text", "bigint"], native=True) is not None


TYPES = ["text", "text", "date", "bigint", "text", "boolean", "timestamptz"]


def _psycopg_stream(rows: list[list[Any]], types: list[str]) -> bytes:
    """What psycopg's `Copy.write_row` sends, after `set_types(types)`."""
    tx = adapt.Transformer()
    tx.set_dumper_types([postgres.types[t].oid for t in types], pq.Format.BINARY)
    out = bytearray(b"PGCOPY\n\xff\r\n\x00" + bytes(8))
    for row in rows:
        format_row_binary(row, tx, out)
    return bytes(out + b"\xff\xff")


def test_copy_rows_equal_psycopgs() -> None:
    at = datetime(2026, 11, 27, 12, 0, 1, 123456, tzinfo=UTC)
    rows: list[list[Any]] = [
        [citizen_id(1), "张三", date(1990, 2, 28), 7, "PSB 00ff 1 2", True, at],
        [citizen_id(2), None, None, None, None, None, None],
        ["k", "", date(1, 1, 1), -(2**63), "x" * 300, False, datetime(1969, 12, 31, tzinfo=UTC)],
        ["k2", "é\u4e2d😀", date(9999, 12, 31), 2**63 - 1, "s", True, at + timedelta(days=9000)],
    ]
    assert copy_rows(rows, TYPES, native=True) == _psycopg_stream(rows, TYPES)
    assert copy_rows([], TYPES, native=True) == _psycopg_stream([], TYPES)


@pytest.mark.parametrize(
    ("types", "row"),
    [
        (["numeric"], [Decimal("1.5")]),
        (["jsonb"], [None]),
        (["text"], ["nul\x00inside"]),
        (["text"], [uuid.uuid4()]),
        (["bigint"], [2**63]),
        (["bigint"], [True]),
        (["date"], [datetime(2020, 1, 1, tzinfo=UTC)]),
        (["timestamptz"], [datetime(2020, 1, 1)]),
        (["timestamptz"], [datetime(2020, 1, 1, tzinfo=timezone(timedelta(hours=8)))]),
        (["text", "text"], ["one value"]),
    ],
)
def test_copy_rows_leave_what_they_do_not_know_to_psycopg(types: list[str], row: list[Any]) -> None:
    assert copy_rows([row], types, native=True) is None
