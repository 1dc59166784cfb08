"""The last line against personal values in the audit log.

Callers write pseudonyms and field names; a record whose text still looks like an identity
number, a mobile number or a unified social credit code is scrubbed before it is chained (the
trace is kept, the value is not) and a warning names the record's fields, never the value.
"""

from __future__ import annotations

import re

import structlog

from govbus import is_valid_uscc, scrub_text
from govbus.gateway.audit._models import AuditRecord

_USCC_LIKE = re.compile(r"(?<![0-9A-Za-z])[0-9A-HJ-NP-RTUWXY]{18}(?![0-9A-Za-z])")
_TEXT_FIELDS = ("actor", "action", "resource", "target", "reason", "outcome")
_log = structlog.get_logger("gateway.audit")


def scrub_value(text: str) -> str:
    text = scrub_text(text)
    return _USCC_LIKE.sub(lambda m: "[uscc]" if is_valid_uscc(m.group()) else m.group(), text)


def guard_record(record: AuditRecord) -> AuditRecord:
    """`record`, or a copy with every personal-looking value replaced by its kind."""
    changes: dict[str, object] = {}
    for name in _TEXT_FIELDS:
        value = getattr(record, name)
        if isinstance(value, str) and (clean := scrub_value(value)) != value:
            changes[name] = clean
    fields = tuple(scrub_value(f) for f in record.fields)
    if fields != record.fields:
        changes["fields"] = fields
    if not changes:
        return record
    _log.warning(
        "audit record held personal values; scrubbed",
        action=changes.get("action", record.action),
        fields=sorted(changes),
    )
    return record.model_copy(update=changes)
