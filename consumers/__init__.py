"""Subscribers: the base-information store and its sync service.

Pipeline: `decode_record` (bytes → event or rejection) → `validate_record` (catalog checks)
→ `apply_batch` (one store transaction per batch, offsets included). Servers read the
store through `open_store_reader` (read-only, pooled), never through the sync's `Store`.
"""

from govbus.consumers._apply import apply_batch
from govbus.consumers._batch_items import (
    BatchItem,
    BatchResult,
    KafkaPosition,
    RejectedRecord,
    SourcedEvent,
)
from govbus.consumers._certificates import CertificateVerdict, Validity, certificate_validity
from govbus.consumers._queries import display as field_text
from govbus.consumers._reader import StoreReader, open_store_reader
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
    "CertificateVerdict",
    "FieldProvenance",
    "KafkaPosition",
    "QuarantineRow",
    "RejectedRecord",
    "SourcedEvent",
    "Store",
    "StoreReader",
    "StoredRecord",
    "Validity",
    "apply_batch",
    "certificate_validity",
    "field_text",
    "open_store",
    "open_store_reader",
]
