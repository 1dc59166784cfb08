"""What an audit record says: who did what to which resource, never with a personal value."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict


class AuditRecord(BaseModel):
    """One audited event. Keys are pseudonyms and fields are names, never values.

    `action` is dotted: auth.failed, principal.created, token.revoked, subscription.requested,
    subscription.approved, acl.added, acl.drift_repaired, lookup.served, stream.delivered ...
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    actor: str  # principal name, or "anonymous" / "system"
    action: str
    resource: str | None = None
    fields: tuple[str, ...] = ()
    records: int | None = None
    target: str | None = None  # a subscription id, principal name, ACL, token id ...
    reason: str | None = None
    outcome: str = "ok"


class AuditSink(Protocol):
    """Where the gateway's parts write: `request.app.state.audit.append(AuditRecord(...))`."""

    def append(self, record: AuditRecord) -> None: ...
