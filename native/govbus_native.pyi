from collections.abc import Callable, Mapping, Sequence
from typing import Any

__version__: str

class AvroEncoder:
    """Avro binary encoder compiled from a schema's JSON definition."""

    def __init__(self, schema: Any, logical_writers: Mapping[str, Any]) -> None: ...
    def encode(self, value: Any, prefix: bytes) -> bytes: ...

class Pseudonymizer:
    """HMAC-SHA256 pseudonyms (first 16 bytes, hex) for one key."""

    def __init__(self, key: bytes) -> None: ...
    def __call__(self, value: str) -> str: ...
    def key_bytes(self, value: str) -> bytes: ...

class RecordMaker:
    """A change event to (event id, key, value, headers, size) in one call."""

    def __init__(
        self,
        encoder: AvroEncoder,
        prefix: bytes,
        pseudonymizer: Pseudonymizer | None,
        template: list[tuple[str, bytes | None]],
    ) -> None: ...
    def make(
        self, event: Any, traceparent: str | None = None
    ) -> tuple[str, bytes, bytes, list[tuple[str, bytes]], int]: ...

class FastPath:
    """Every publish check and the record in one call; a produce loop for batches."""

    def __init__(
        self,
        department: str,
        routes: list[tuple[type, str, str, RecordMaker, str, frozenset[str], bool]],
        max_bytes: int,
        address_codes: dict[int, tuple[int, int]],
        today: tuple[int, int, int],
    ) -> None: ...
    def prepare(
        self, event: Any, traceparent: str | None = None
    ) -> tuple[str, str, str, bytes, bytes, list[tuple[str, bytes]]] | None: ...
    def produce_many(
        self,
        events: Sequence[Any],
        start: int,
        producer: Any,
        tracker: BatchTracker,
        traceparent: str | None = None,
    ) -> int: ...

class BatchTracker:
    """A batch's delivery callback: counts acknowledgements, hands failures on."""

    def __init__(self, on_failure: Callable[[Any, Any], None]) -> None: ...
    def __call__(self, err: Any, msg: Any) -> None: ...
    def count_produced(self, topic: str) -> None: ...
    @property
    def produced(self) -> int: ...
    @property
    def delivered(self) -> int: ...
    @property
    def failed(self) -> int: ...
    def produced_by_topic(self) -> dict[str, int]: ...

def scan_batch(
    items: Sequence[tuple[Any, ...]],
    sourced_event: type,
    certificate: type,
    utc: Any,
    events: dict[int, Any],
    rejected: list[Any],
    lowest: dict[tuple[str, int], int],
    next_offsets: dict[tuple[str, int], int],
    stamp_end: str,
    native_plan: Callable[[Any], tuple[tuple[str, ...], int, list[Any], dict[str, int]] | None],
    add: Callable[[Any], None],
) -> tuple[int, int, int]:
    """`consumers._apply._scan` for the common upsert; other events go to `add`.

    `items`: `SourcedEvent` (event, position) and `RejectedRecord` (position, ...) named
    tuples, positions (topic, partition, offset), read by position. `native_plan(event)`:
    a `NativePlan` (fields, refused, rows, seen) or None. Fills `events`, `rejected`,
    `lowest` and `next_offsets`; returns (applied, refused, repeats)."""

def copy_rows(rows: list[list[Any]], types: list[str], utc: Any) -> bytes | None:
    """Rows as a binary COPY stream, or None if a type or value is not one it encodes."""
