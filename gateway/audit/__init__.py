"""The audit log: every decision and every access, as records that carry no personal value.

`ChainedAuditLog` is the gateway's sink: a hash chain in the gateway database with signed
checkpoints, mirrored to Kafka. `MemoryAuditLog` stays for unit tests.
"""

from govbus.gateway.audit._chain import GENESIS_HASH, ChainEntry, Checkpoint, next_entry
from govbus.gateway.audit._check import ChainReport, check_chain
from govbus.gateway.audit._group import GroupCommit
from govbus.gateway.audit._guard import guard_record
from govbus.gateway.audit._kafka import READER_GROUP_PREFIX, TOPIC_CONFIG, encode_item, read_topic
from govbus.gateway.audit._log import ChainedAuditLog
from govbus.gateway.audit._memory import MemoryAuditLog
from govbus.gateway.audit._mirror import KafkaMirror
from govbus.gateway.audit._models import AuditRecord, AuditSink
from govbus.gateway.audit._router import audit_router
from govbus.gateway.audit._service import AuditPage
from govbus.gateway.audit._setup import (
    audit_key_path,
    audit_running,
    open_audit_log,
    public_key_path,
)
from govbus.gateway.audit._signing import (
    AuditKeyError,
    CheckpointSigner,
    load_private_key,
    load_public_key,
    public_pem,
    write_new_key,
)
from govbus.gateway.audit._store import AuditStore
from govbus.gateway.audit._verify import verify_both, verify_database, verify_topic

__all__ = [
    "GENESIS_HASH",
    "READER_GROUP_PREFIX",
    "TOPIC_CONFIG",
    "AuditKeyError",
    "AuditPage",
    "AuditRecord",
    "AuditSink",
    "AuditStore",
    "ChainEntry",
    "ChainReport",
    "ChainedAuditLog",
    "Checkpoint",
    "CheckpointSigner",
    "GroupCommit",
    "KafkaMirror",
    "MemoryAuditLog",
    "audit_key_path",
    "audit_router",
    "audit_running",
    "check_chain",
    "encode_item",
    "guard_record",
    "load_private_key",
    "load_public_key",
    "next_entry",
    "open_audit_log",
    "public_key_path",
    "public_pem",
    "read_topic",
    "verify_both",
    "verify_database",
    "verify_topic",
    "write_new_key",
]
