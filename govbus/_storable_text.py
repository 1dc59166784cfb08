"""Text the base store can hold, checked on every way in and again by the sync.

PostgreSQL's `text` refuses NUL (U+0000), and a lone surrogate (U+D800 to U+DFFF, not in
a pair) has no UTF-8 encoding, so neither Avro, SQLite nor PostgreSQL can carry it. An
event holding either is refused with UNSTORABLE_TEXT naming the field, never the value:
accepted, it would only fail later, in the store, for the whole batch around it.
"""

from __future__ import annotations

import re
from typing import Any

from govbus._changes import ChangeEvent
from govbus._errors import ErrorCode, GovbusError

_SURROGATE = re.compile("[\ud800-\udfff]")


def unstorable_part(text: str) -> str | None:
    """What makes `text` unstorable ("a NUL character", "a lone surrogate"), or None."""
    if "\x00" in text:
        return "a NUL character (U+0000)"
    if not text.isascii() and _SURROGATE.search(text) is not None:
        # In a Python str, paired or not, a surrogate code point has no UTF-8 encoding.
        return "a lone surrogate (U+D800 to U+DFFF)"
    return None


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
    for name, value in (
        ("entity_key", event.entity_key),
        ("source_department", event.source_department),
    ):
        found = unstorable_part(value)
        if found:
            raise unstorable_text(name, found)
    if event.data is None:
        return
    # The model's fields, as `to_avro` reads them; a map's keys are never named (they
    # could be personal data), only the field that holds them.
    for name, value in event.data.__dict__.items():
        if value is not None:
            found = _unstorable_in(value)
            if found:
                raise unstorable_text(name, found)


def unstorable_text(field: str, what: str) -> GovbusError:
    return GovbusError(
        ErrorCode.UNSTORABLE_TEXT,
        f"{field} holds {what}, which the base store's text cannot hold",
        field=field,
    )
