"""A view's Avro schema and its records: the base event cut down to what a grant delivers.

The view schema is the base schema with the data record reduced to the delivered fields;
a masked field becomes a string (its masked text). The envelope stays (event id, key, source,
sequence, time, operation), `changed_fields` lists only the view's fields, and the key is
masked as the policy says. A record that changes none of the view's fields has no view record.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from govbus import (
    CertificateKey,
    Disclosure,
    DisclosureKind,
    EntityKind,
    GovbusError,
    GrantPolicy,
    Resource,
)

_ENVELOPE_KEY = "entity_key"


def view_namespace(policy: GrantPolicy) -> str:
    """A namespace of its own per view, so its records never collide with the base ones."""
    suffix = policy.view_topic.rsplit(".", 1)[-1]
    return f"cn.gov.govbus.view.{policy.resource.code.lower().replace('-', '_')}_{suffix}"


def view_schema(policy: GrantPolicy, base: dict[str, Any]) -> dict[str, Any]:
    """The view's schema from the base schema's definition (the resource's latest version)."""
    schema = copy.deepcopy(base)
    schema["namespace"] = view_namespace(policy)
    schema["doc"] = (
        f"View of {policy.resource.code} delivering {', '.join(sorted(policy.delivered))}; "
        "masked fields are strings."
    )
    for envelope_field in schema["fields"]:
        if envelope_field["name"] == "data":
            _project_data(policy, envelope_field)
        elif envelope_field["name"] == _ENVELOPE_KEY:
            envelope_field["doc"] = "The key, masked as the grant delivers it."
    return schema


def _project_data(policy: GrantPolicy, data_field: dict[str, Any]) -> None:
    record = next(t for t in data_field["type"] if isinstance(t, dict))
    kept = []
    for spec in record["fields"]:
        disclosure = policy.delivered.get(spec["name"])
        if disclosure is None or spec["name"] == policy.resource.key.name:
            continue
        if disclosure.kind is DisclosureKind.MASKED:
            nullable = isinstance(spec["type"], list) and "null" in spec["type"]
            spec = {
                "name": spec["name"],
                "type": ["null", "string"] if nullable else "string",
                **({"default": None} if nullable else {}),
                "doc": "Masked text.",
            }
        kept.append(spec)
    record["fields"] = kept


def data_record_fullname(schema: dict[str, Any]) -> str:
    for envelope_field in schema["fields"]:
        if envelope_field["name"] == "data":
            record = next(t for t in envelope_field["type"] if isinstance(t, dict))
            name = str(record["name"])
            return name if "." in name else f"{schema['namespace']}.{name}"
    raise ValueError("a change-event schema has a data field")


def display(value: Any) -> str:
    """A value as text before masking (the store's read side shows values the same way)."""
    if type(value) is str:  # the common case, first (the projector's hot path)
        return value
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class ViewProjection:
    """One view: the policy, its topic names and schema, and the record projection."""

    policy: GrantPolicy
    base_topic: str
    topic: str
    base_schema: dict[str, Any]
    """The resource's latest base schema: base records are read as it (any writer version)."""
    schema: dict[str, Any]
    _data_fields: dict[str, Disclosure | None] = field(init=False, repr=False)
    """Each delivered data field: its masking disclosure, or None when shown as is."""
    _data_name: str = field(init=False, repr=False)
    _key_disclosure: Disclosure = field(init=False, repr=False)

    def __post_init__(self) -> None:
        key = self.policy.resource.key.name
        data = {
            n: d if d.kind is DisclosureKind.MASKED else None
            for n, d in sorted(self.policy.delivered.items())
            if n != key
        }
        object.__setattr__(self, "_data_fields", data)
        object.__setattr__(self, "_data_name", data_record_fullname(self.schema))
        object.__setattr__(self, "_key_disclosure", self.policy.disclosure(key))

    @property
    def resource(self) -> Resource:
        return self.policy.resource

    @property
    def subject(self) -> str:
        """Confluent's TopicNameStrategy subject of the view's values."""
        return f"{self.topic}-value"

    def project(self, record: dict[str, Any]) -> dict[str, Any] | None:
        """The view record of a decoded base record, or None when the view has none."""
        if not self._belongs(record[_ENVELOPE_KEY]):
            return None
        changed = [name for name in record["changed_fields"] if name in self._data_fields]
        if record["operation"] != "DELETE" and not changed:
            return None
        data = record["data"]
        view_data: Any = None
        if data is not None:
            view_data = (
                self._data_name,
                {
                    name: value if d is None or value is None else d.apply(display(value))
                    for name, d in self._data_fields.items()
                    for value in (data.get(name),)
                },
            )
        return {
            **record,
            _ENVELOPE_KEY: self._key(record[_ENVELOPE_KEY]),
            "changed_fields": changed,
            "data": view_data,
        }

    def _belongs(self, entity_key: str) -> bool:
        """Several certificate resources share a topic: the licence type in the key tells."""
        resource = self.policy.resource
        if resource.entity is not EntityKind.CERTIFICATE:
            return True
        try:
            return CertificateKey.parse(entity_key).licence_type_code == resource.licence_type_code
        except GovbusError:
            return False

    def _key(self, entity_key: str) -> str:
        disclosure = self._key_disclosure
        if disclosure.kind is not DisclosureKind.MASKED:
            return entity_key
        if self.policy.resource.entity is EntityKind.CERTIFICATE:  # the licence type shows
            parsed = CertificateKey.parse(entity_key)
            return parsed._replace(licence_number=disclosure.apply(parsed.licence_number)).format()
        return disclosure.apply(entity_key)


def make_view(
    policy: GrantPolicy, base_schema: dict[str, Any], topic_prefix: str = ""
) -> ViewProjection:
    """The view of `policy`; `topic_prefix` goes before both topic names (isolated runs)."""
    return ViewProjection(
        policy=policy,
        base_topic=topic_prefix + policy.resource.topic,
        topic=topic_prefix + policy.view_topic,
        base_schema=base_schema,
        schema=view_schema(policy, base_schema),
    )
