"""The store sync's native hot loop (`native/src/store_rows.rs`), where built and switched on.

`scan_batch` reads a batch into merge rows, taking only the common upsert and handing every
other event to the Python `_Rows.add`; `copy_rows` encodes merge rows as a binary COPY
stream, or says None (psycopg's `write_row` then does it). Both give exactly what the Python
paths give (`tests/consumers/test_native_rows.py`); `GOVBUS_NATIVE=0` keeps Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC
from types import ModuleType
from typing import Any

from govbus import native_available, native_module

_module: ModuleType | None = native_module()  # None when not built: the Python paths serve


def native_rows_on() -> bool:
    """Built, the build has the store functions, and not switched off (`GOVBUS_NATIVE=0`)."""
    return _module is not None and hasattr(_module, "scan_batch") and native_available()


def scan_batch(
    items: Sequence[Any], scan: Any, sourced_event: type, certificate: type
) -> tuple[int, int] | None:
    """Fills `scan` (a fresh `_Scan`) from `items`; the (applied, refused) counts of the
    events taken natively, or None if the native path is off (nothing was done)."""
    if not native_rows_on():
        return None
    assert _module is not None
    counts: tuple[int, int] = _module.scan_batch(items, scan, sourced_event, certificate, UTC)
    return counts


def copy_rows(rows: list[list[Any]], types: list[str]) -> bytes | None:
    """`rows` as a binary COPY stream of columns of `types`, or None (Python's)."""
    if not native_rows_on():
        return None
    assert _module is not None
    payload: bytes | None = _module.copy_rows(rows, types, UTC)
    return payload
