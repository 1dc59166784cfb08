"""The sharing policy: what of each stored field may leave the store, and in what form.

Every read path (the `govbus store` CLI today, the gateway later) asks `field_disclosure`
and applies its answer; none keeps its own copy of the rules. In the default view:

- a `not_shared` field is withheld, whatever its mask;
- a field with a mask rule is masked by it;
- a personal or sensitive field without a mask rule is masked in full;
- any other field (public, internal) is shown;
- a name the catalog does not know is withheld: nothing leaves unclassified.

`unmasked=True` is the operator's view on the store host: every value as stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum

from govbus._catalog import MaskRule, Resource, Sensitivity, SharingType

WITHHELD_NOT_SHARED = "<withheld: not shared>"
WITHHELD_NOT_IN_CATALOG = "<withheld: not in the catalog>"
WITHHELD_NOT_GRANTED = "<withheld: not granted>"
VIEW_TOPIC_PREFIX = "govbus.view."

_FULL_MASK = MaskRule()
_PRIVATE = frozenset({Sensitivity.PERSONAL, Sensitivity.SENSITIVE})


class DisclosureKind(StrEnum):
    SHOWN = "shown"
    MASKED = "masked"
    WITHHELD = "withheld"


@dataclass(frozen=True, slots=True)
class Disclosure:
    """The verdict for one field: shown as is, masked by `mask`, or withheld (`marker`)."""

    kind: DisclosureKind
    mask: MaskRule | None = None
    marker: str = ""

    def apply(self, text: str) -> str:
        """The field's text as it may be delivered (a withheld field is only its marker)."""
        if self.kind is DisclosureKind.WITHHELD:
            return self.marker
        if self.kind is DisclosureKind.MASKED and self.mask is not None and text:
            return self.mask.apply(text)
        return text


_SHOWN = Disclosure(DisclosureKind.SHOWN)


def field_disclosure(resource: Resource, field: str, *, unmasked: bool = False) -> Disclosure:
    """How `field` of `resource` (a data field or the key's name) may be delivered."""
    if unmasked:
        return _SHOWN
    spec = resource.key if field == resource.key.name else resource.fields_by_name.get(field)
    if spec is None:
        return Disclosure(DisclosureKind.WITHHELD, marker=WITHHELD_NOT_IN_CATALOG)
    if spec.sharing is SharingType.NOT_SHARED:
        return Disclosure(DisclosureKind.WITHHELD, marker=WITHHELD_NOT_SHARED)
    if spec.mask is not None:
        return Disclosure(DisclosureKind.MASKED, mask=spec.mask)
    if spec.sensitivity in _PRIVATE:
        return Disclosure(DisclosureKind.MASKED, mask=_FULL_MASK)
    return _SHOWN


class RequestOutcome(StrEnum):
    """What a subscription request for a set of fields becomes at once."""

    APPROVED = "approved"  # every field (and the key) is unconditional
    PENDING = "pending"  # some field is conditional: the provider decides
    REFUSED = "refused"  # some field is not shared, or not in the catalog


@dataclass(frozen=True, slots=True)
class RequestVerdict:
    """The outcome of asking for `fields` of a resource, naming the fields that decided it."""

    outcome: RequestOutcome
    not_shared: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    conditional: tuple[str, ...] = ()


def request_verdict(resource: Resource, fields: Collection[str]) -> RequestVerdict:
    """Approve, hold for the provider, or refuse a request for `fields` (the key is implied).

    The key always travels with a record, so its sharing type counts as if it were asked for.
    """
    asked = [resource.key.name, *sorted(set(fields) - {resource.key.name})]
    unknown = tuple(n for n in asked if n not in resource.fields_by_name and n != resource.key.name)
    specs = [
        resource.key if n == resource.key.name else resource.fields_by_name[n]
        for n in asked
        if n not in unknown
    ]
    not_shared = tuple(s.name for s in specs if s.sharing is SharingType.NOT_SHARED)
    conditional = tuple(s.name for s in specs if s.sharing is SharingType.CONDITIONAL)
    if unknown or not_shared:
        return RequestVerdict(RequestOutcome.REFUSED, not_shared, unknown, conditional)
    if conditional:
        return RequestVerdict(RequestOutcome.PENDING, conditional=conditional)
    return RequestVerdict(RequestOutcome.APPROVED)


@dataclass(frozen=True, slots=True)
class GrantPolicy:
    """What a grant of `granted` fields lets leave the store, field by field.

    Under a grant a field is delivered as the catalog says: masked by its mask rule, else as
    stored. Fields outside the grant, not-shared fields and names the catalog lacks are
    withheld. The key is always delivered (masked by its rule), so records can be joined.
    """

    resource: Resource
    delivered: Mapping[str, Disclosure]

    @property
    def withheld(self) -> frozenset[str]:
        every = {self.resource.key.name, *self.resource.fields_by_name}
        return frozenset(every - set(self.delivered))

    @property
    def reads_raw_topic(self) -> bool:
        """True only if every field is delivered as stored: the base topic may then be read."""
        return not self.withheld and all(
            d.kind is DisclosureKind.SHOWN for d in self.delivered.values()
        )

    @property
    def view_signature(self) -> tuple[tuple[str, tuple[int, int] | None, bool], ...]:
        """(field, mask keep, masked) per delivered field: grants that share it share a view."""
        return tuple(
            (name, d.mask.keep if d.mask else None, d.kind is DisclosureKind.MASKED)
            for name, d in sorted(self.delivered.items())
        )

    @property
    def view_topic(self) -> str:
        """`govbus.view.<resource code lower>.<short hash>`: the topic a grant that may not
        read the raw topic reads. One per (resource, view_signature): the ACLs and the
        projector both take the name from here."""
        return view_topic_name(self.resource.code, self.view_signature)

    def disclosure(self, field: str) -> Disclosure:
        return self.delivered.get(field) or _withheld_outside_grant(self.resource, field)


def view_topic_name(
    resource_code: str, signature: tuple[tuple[str, tuple[int, int] | None, bool], ...]
) -> str:
    """The view topic of a signature: 12 hex digits (48 bits) of its canonical JSON's SHA-256."""
    canonical = json.dumps(signature, separators=(",", ":"), ensure_ascii=True)
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:12]
    return f"{VIEW_TOPIC_PREFIX}{resource_code.lower()}.{digest}"


def _withheld_outside_grant(resource: Resource, field: str) -> Disclosure:
    spec = resource.key if field == resource.key.name else resource.fields_by_name.get(field)
    if spec is None:
        return Disclosure(DisclosureKind.WITHHELD, marker=WITHHELD_NOT_IN_CATALOG)
    if spec.sharing is SharingType.NOT_SHARED:
        return Disclosure(DisclosureKind.WITHHELD, marker=WITHHELD_NOT_SHARED)
    return Disclosure(DisclosureKind.WITHHELD, marker=WITHHELD_NOT_GRANTED)


def grant_disclosure(resource: Resource, granted: Collection[str]) -> GrantPolicy:
    """The policy of a grant of `granted` fields of `resource` (see GrantPolicy)."""
    delivered: dict[str, Disclosure] = {}
    for name in {resource.key.name, *granted}:
        spec = resource.key if name == resource.key.name else resource.fields_by_name.get(name)
        if spec is None or spec.sharing is SharingType.NOT_SHARED:
            continue
        delivered[name] = (
            Disclosure(DisclosureKind.MASKED, mask=spec.mask) if spec.mask is not None else _SHOWN
        )
    return GrantPolicy(resource, delivered)
