"""The audit log: every decision and every access, as records that carry no personal value."""

from govbus.gateway.audit._memory import MemoryAuditLog
from govbus.gateway.audit._models import AuditRecord, AuditSink

__all__ = ["AuditRecord", "AuditSink", "MemoryAuditLog"]
