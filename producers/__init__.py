"""Department-side publishing: the way data gets into govbus.

- `Publisher` / `AsyncPublisher`: validate, encode and produce typed change events
  (`publish` with a result per event, `publish_many` with one per batch).
- `write_outbox_event`: the transactional outbox, relayed by `govbus relay`.
"""

from govbus.producers._async import AsyncPublisher
from govbus.producers._batch import BatchDelivery, BatchReceipt, Refusal
from govbus.producers._delivery import DeliveryFailure, DeliveryReceipt, DeliveryResult
from govbus.producers._outbox_tables import create_outbox_table, write_outbox_event
from govbus.producers._publisher import OutgoingRecord, ProducerLike, Publisher
from govbus.producers._records import event_from_record

__all__ = [
    "AsyncPublisher",
    "BatchDelivery",
    "BatchReceipt",
    "DeliveryFailure",
    "DeliveryReceipt",
    "DeliveryResult",
    "OutgoingRecord",
    "ProducerLike",
    "Publisher",
    "Refusal",
    "create_outbox_table",
    "event_from_record",
    "write_outbox_event",
]
