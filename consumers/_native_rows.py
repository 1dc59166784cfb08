"""The store sync's native hot loop (`native/src/store_rows.rs`), where built and switched on.

`scan_batch` reads a batch into merge rows, taking only the common upsert and handing every
other event to the Python `BatchRows.add`; `copy_rows` encodes merge rows as a binary COPY
stream, or says None (psycopg's `write_row` then does it). Both give exactly what the Python
paths give (`tests/consumers/test_native_rows.py`). The caller says whether they may run
(`native`, from `Settings.native`); they never look at the environment.

The interface is positional and typed (`native/govbus_native.pyi`): the native code reads
no attribute of a private class. What it reads by position is a named tuple whose field
order a test asserts (`KafkaPosition`, `SourcedEvent`, `RejectedRecord`, `NativePlan`); the
scan's containers are passed in as arguments, and a plan it does not know yet it asks for
(`BatchRows.native_plan`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC
from types import ModuleType
from typing import TYPE_CHECKING, Any, NamedTuple

from govbus import native_module

if TYPE_CHECKING:
    from govbus.consumers._apply import _Scan

_module: ModuleType | None = native_module()  # None when not built: the Python paths serve


class NativePlan(NamedTuple):
    """What the native scan needs to add an upsert of a known plan itself (read by position)."""

    fields: tuple[str, ...]
    """The data fields the rows carry, in column order (the plan's shape)."""
    refused: int
    """Changed fields the department is not the authority for, counted per event."""
    rows: list[Any]
    """The plan's merge rows of first events, to append to."""
    seen: dict[str, int]
    """The kind's keys in the batch so far (a later event of one goes to Python)."""


def native_rows_built() -> bool:
    """The extension is built with the store functions."""
    return _module is not None and hasattr(_module, "scan_batch")


def scan_batch(
    items: Sequence[Any],
    scan: _Scan,
    sourced_event: type,
    certificate: type,
    native_plan: Callable[[Any], NativePlan | None],
    *,
    native: bool,
) -> tuple[int, int] | None:
    """Fills `scan` (a fresh `_Scan`) from `items`; the (applied, refused) counts of the
    events taken natively, or None if the native path is off (nothing was done)."""
    if not native or not native_rows_built():
        return None
    assert _module is not None
    applied, refused, repeats = _module.scan_batch(
        items,
        sourced_event,
        certificate,
        UTC,
        scan.events,
        scan.rejected,
        scan.lowest,
        scan.next_offsets,
        scan.rows.stamp_end,
        native_plan,
        scan.rows.add,
    )
    scan.repeats = repeats
    return applied, refused


def copy_rows(rows: list[list[Any]], types: list[str], *, native: bool) -> bytes | None:
    """`rows` as a binary COPY stream of columns of `types`, or None (Python's)."""
    if not native or not native_rows_built():
        return None
    assert _module is not None
    payload: bytes | None = _module.copy_rows(rows, types, UTC)
    return payload
