"""Text the base store can hold, checked on every way in and again by the sync.

PostgreSQL's `text` refuses NUL (U+0000), and a lone surrogate (U+D800 to U+DFFF, not in
a pair) has no UTF-8 encoding, so neither Avro, SQLite nor PostgreSQL can carry it. An
event holding either is refused with UNSTORABLE_TEXT naming the field, never the value:
accepted, it would only fail later, in the store, for the whole batch around it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from govbus._changes import ChangeEvent
from govbus._errors import ErrorCode, GovbusError

_NOT_TEXT = frozenset({date, datetime, Decimal, int, bool, float})


def unstorable_part(text: str) -> str | None:
    """What makes `text` unstorable ("a NUL character", "a lone surrogate"), or None."""
    if "\x00" in text:
        return "a NUL character (U+0000)"
    return None if text.isascii() or _encodes(text) else "a lone surrogate (U+D800 to U+DFFF)"


def _encodes(text: str) -> bool:
    """Whether `text` has a UTF-8 encoding: only surrogate code points (paired or not, in
    a Python str) have none. Encoding is faster than a regex search, and the native
    encoder has usually cached the UTF-8 bytes in the str already."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def _unstorable_in(value: Any) -> str | None:
    """`unstorable_part` of a value: text, or the keys and items of maps and lists."""
    if isinstance(value, str):
        return unstorable_part(value)
    if isinstance(value, dict):
        for key, item in value.items():
            found = _unstorable_in(key) or _unstorable_in(item)
            if found:
                return found
    elif isinstance(value, list | tuple):
        for item in value:
            found = _unstorable_in(item)
            if found:
                return found
    return None


def check_storable_text(event: ChangeEvent[Any]) -> None:
    """Raise UNSTORABLE_TEXT naming the first field whose text the store cannot hold."""
    found = unstorable_part(event.entity_key)
    if found:
        raise unstorable_text("entity_key", found)
    found = unstorable_part(event.source_department)
    if found:
        raise unstorable_text("source_department", found)
    if event.data is None:
        return
    # The model's fields, as `to_avro` reads them; a map's keys are never named (they
    # could be personal data), only the field that holds them. Runs for every event, on
    # the way in and in the sync: values that cannot hold text are skipped at once.
    for name, value in event.data.__dict__.items():
        if value is None or value.__class__ in _NOT_TEXT:
            continue
        found = unstorable_part(value) if value.__class__ is str else _unstorable_in(value)
        if found:
            raise unstorable_text(name, found)


def unstorable_text(field: str, what: str) -> GovbusError:
    return GovbusError(
        ErrorCode.UNSTORABLE_TEXT,
        f"{field} holds {what}, which the base store's text cannot hold",
        field=field,
    )
