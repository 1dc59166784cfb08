"""The optional native hot paths (`native/`, Rust): same bytes as the Python code.

`make setup` builds and installs them (`pip install ./native`, needs cargo). Without
them, or with `Settings(native=False)` (`GOVBUS_NATIVE=0`), govbus runs its Python paths
unchanged; the tests run both and compare their output byte for byte. The switch is read
from the `Settings` each role is given, never from the environment here: the contract
(`load_contract`), the publisher and the sync (`apply_batch(native=...)`) pass it on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from types import ModuleType
from typing import Any

from fastavro.write import LOGICAL_WRITERS

from govbus._settings import Settings

_module: ModuleType | None
try:
    import govbus_native as _module
except ImportError:  # not built: the Python paths serve
    _module = None

NativeEncode = Callable[[Any, bytes], bytes]
"""(record or model, wire header) -> wire header + Avro body."""
MakeRecord = Callable[..., tuple[str, bytes, bytes, list[tuple[str, bytes]], int]]
"""(event, traceparent=None) -> (event id, key, value, headers, size)."""


def native_module() -> ModuleType | None:
    """The extension module itself, for the packages that add native paths of their own."""
    return _module


def native_built() -> bool:
    """The extension is built and installed."""
    return _module is not None


def native_available(settings: Settings) -> bool:
    """Built, and not switched off by `settings.native` (`GOVBUS_NATIVE=0`)."""
    return _module is not None and settings.native


def compile_native_encoder(schema: Any) -> Any | None:
    """A native `AvroEncoder` for `schema` (its JSON definition), or None (Python writer)."""
    if _module is None:
        return None
    try:
        return _module.AvroEncoder(schema, LOGICAL_WRITERS)
    except NotImplementedError:  # a construct the native encoder leaves to Python
        return None


def native_pseudonymizer(key: bytes) -> Callable[[str], str] | None:
    """HMAC-SHA256 pseudonyms for `key` (see `_identifiers.pseudonymize`), or None."""
    if _module is None:
        return None
    pseudonymize: Callable[[str], str] = _module.Pseudonymizer(key)
    return pseudonymize


def native_record_maker(
    encoder: Any,
    wire_header: bytes,
    pseudonym_key: bytes | None,
    template: list[tuple[str, bytes | None]],
) -> Any | None:
    """A `RecordMaker`: event to record parts in one call (`.make`); persons' keys
    pseudonymized with `pseudonym_key`. None without a native encoder."""
    if _module is None or encoder is None:
        return None
    pseudonymizer = None if pseudonym_key is None else _module.Pseudonymizer(pseudonym_key)
    return _module.RecordMaker(encoder, wire_header, pseudonymizer, template)


FastRoute = tuple[type, str, str, Any, str, frozenset[str], bool]
"""(event class, resource code, topic, RecordMaker, "citizen_id" | "uscc", fields the
department is the source of, may delete)."""


def native_fast_path(
    department: str,
    routes: list[FastRoute],
    max_bytes: int,
    address_codes: dict[int, tuple[int, int]],
    today: date,
) -> Any | None:
    """The publisher's native `FastPath` over `routes`, or None. `address_codes`: when each
    address code was in force (`address_code_spans`); identity numbers born after `today`
    are left to the Python checks."""
    if _module is None or not routes:
        return None
    day = (today.year, today.month, today.day)
    return _module.FastPath(department, routes, max_bytes, address_codes, day)


def native_batch_tracker(on_failure: Callable[[Any, Any], None]) -> Any:
    """A batch's delivery callback (`BatchTracker`); requires the native module."""
    if _module is None:
        raise RuntimeError("the native module is not built")
    return _module.BatchTracker(on_failure)
