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

from dataclasses import dataclass
from enum import StrEnum

from govbus._catalog import MaskRule, Resource, Sensitivity, SharingType

WITHHELD_NOT_SHARED = "<withheld: not shared>"
WITHHELD_NOT_IN_CATALOG = "<withheld: not in the catalog>"

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
