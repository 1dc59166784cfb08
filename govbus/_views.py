"""Which view topics the grants want: one per distinct (resource, delivered fields, masks).

A pure function of the catalog and the grants' field sets, so the gateway (which knows the
grants) and the projector (which writes the views) agree without importing each other.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from govbus._catalog import Catalog
from govbus._errors import ErrorCode, GovbusError
from govbus._sharing import GrantPolicy, grant_disclosure


def view_policies(
    catalog: Catalog, field_sets: Iterable[tuple[str, Collection[str]]]
) -> list[GrantPolicy]:
    """The policies of the views that `(resource code, granted fields)` pairs need, one per
    view topic, sorted by topic. Grants that may read the raw base topic need no view."""
    views: dict[str, GrantPolicy] = {}
    for code, fields in field_sets:
        policy = grant_disclosure(catalog.resource(code), fields)
        if not policy.reads_raw_topic:
            views.setdefault(policy.view_topic, policy)
    return [views[topic] for topic in sorted(views)]


class WantedView(BaseModel):
    """One grant's field set as the views file lists it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    resource: str
    fields: tuple[str, ...]


class ViewsFile(BaseModel):
    """What the gateway exports and `govbus project --views` reads: the grants' field sets."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    views: tuple[WantedView, ...] = ()


def read_views_file(catalog: Catalog, path: Path) -> list[GrantPolicy]:
    """The view policies a views file asks for; INVALID_SETTING if it cannot be read."""
    try:
        parsed = ViewsFile.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as error:
        reason = type(error).__name__ if isinstance(error, OSError) else "not a views file"
        raise GovbusError(ErrorCode.INVALID_SETTING, f"{path}: {reason}") from None
    return view_policies(catalog, ((v.resource, v.fields) for v in parsed.views))


def write_views_file(path: Path, field_sets: Iterable[tuple[str, Collection[str]]]) -> None:
    """Write the field sets atomically (a reader never sees half a file)."""
    views = tuple(
        sorted(
            {WantedView(resource=r, fields=tuple(sorted(f))) for r, f in field_sets},
            key=lambda v: (v.resource, v.fields),
        )
    )
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(ViewsFile(views=views).model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
