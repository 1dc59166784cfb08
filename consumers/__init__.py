"""Subscribers: the base-information store and its sync service.

Pipeline: `decode_record` (bytes → event or rejection) → `validate_record` (catalog checks)
→ `apply_batch` (one store transaction per batch, offsets included).
"""

from govbus.consumers._apply import apply_batch
from govbus.consumers._batch_items import (
    BatchItem,
    BatchResult,
    KafkaPosition,
    RejectedRecord,
    SourcedEvent,
)
from govbus.consumers._store import (
    FieldProvenance,
    QuarantineRow,
    Store,
    StoredRecord,
    open_store,
)

__all__ = [
    "BatchItem",
    "BatchResult",
    "FieldProvenance",
    "KafkaPosition",
    "QuarantineRow",
    "RejectedRecord",
    "SourcedEvent",
    "Store",
    "StoredRecord",
    "apply_batch",
    "open_store",
]
