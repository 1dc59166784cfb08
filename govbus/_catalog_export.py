"""The catalog as a national catalog system reads it: one entry per resource, in JSON or CSV.

`GET /v1/catalog` answers with the same entries, so the API and the export cannot drift.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict

from govbus._catalog import Catalog, FieldSpec, Resource
from govbus._catalog_metadata import Category, Service


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class MaskEntry(_Out):
    rule: Literal["keep", "full"]
    first: int = 0  # characters kept at the start (rule "keep")
    last: int = 0  # and at the end


class FieldEntry(_Out):
    name: str
    key: bool
    authority: str
    sharing: str
    sensitivity: str
    mask: MaskEntry | None


class CatalogEntry(_Out):
    """One resource: the GB/T 21063.3 core metadata first, then how govbus shares it."""

    resource_id: str  # 信息资源标识符
    title: str  # 信息资源名称
    abstract: str  # 信息资源摘要
    provider: str  # 信息资源提供方 (department code)
    provider_name: str
    category: Category  # 信息资源分类
    metadata_id: str  # 元数据标识符
    published: dt.date  # 发布日期
    keywords: tuple[str, ...]  # 关键字说明
    online_link: str  # 在线资源链接地址
    services: tuple[Service, ...]  # 服务信息
    maintainer: str  # 元数据维护方 (department code)
    maintainer_name: str
    updated: dt.date  # 元数据更新日期
    code: str
    entity: str
    topic: str
    update_cycle: str
    fields: tuple[FieldEntry, ...]


def _mask(spec: FieldSpec) -> MaskEntry | None:
    if spec.mask is None:
        return None
    if spec.mask.keep is None:
        return MaskEntry(rule="full")
    return MaskEntry(rule="keep", first=spec.mask.keep[0], last=spec.mask.keep[1])


def _field(spec: FieldSpec, key: bool) -> FieldEntry:
    return FieldEntry(
        name=spec.name,
        key=key,
        authority=spec.authority,
        sharing=str(spec.sharing),
        sensitivity=str(spec.sensitivity),
        mask=_mask(spec),
    )


def catalog_entry(catalog: Catalog, resource: Resource) -> CatalogEntry:
    meta = resource.metadata
    return CatalogEntry(
        resource_id=meta.resource_id,
        title=resource.name,
        abstract=resource.description,
        provider=resource.provider,
        provider_name=catalog.department(resource.provider).name,
        category=meta.category,
        metadata_id=meta.metadata_id,
        published=meta.published,
        keywords=meta.keywords,
        online_link=meta.online_link,
        services=meta.services,
        maintainer=meta.maintainer,
        maintainer_name=catalog.department(meta.maintainer).name,
        updated=meta.updated,
        code=resource.code,
        entity=str(resource.entity),
        topic=resource.topic,
        update_cycle=resource.update_cycle,
        fields=(_field(resource.key, True), *(_field(f, False) for f in resource.fields)),
    )


def catalog_entries(catalog: Catalog) -> list[CatalogEntry]:
    return [catalog_entry(catalog, r) for r in catalog.resources]


# One CSV row per resource: the core metadata, lists joined by "; ", fields as name=sharing.
CSV_COLUMNS = (
    "resource_id",
    "title",
    "abstract",
    "provider",
    "provider_name",
    "category_code",
    "category_name",
    "metadata_id",
    "published",
    "keywords",
    "online_link",
    "services",
    "maintainer",
    "maintainer_name",
    "updated",
    "code",
    "topic",
    "update_cycle",
    "fields",
)


def _mask_text(mask: MaskEntry | None) -> str:
    if mask is None:
        return ""
    return "/full" if mask.rule == "full" else f"/keep {mask.first},{mask.last}"


def _csv_row(entry: CatalogEntry) -> dict[str, str]:
    return {
        **{
            name: str(getattr(entry, name))
            for name in CSV_COLUMNS
            if name not in {"category_code", "category_name", "keywords", "services", "fields"}
        },
        "category_code": entry.category.code,
        "category_name": entry.category.name,
        "keywords": "; ".join(entry.keywords),
        "services": "; ".join(f"{s.delivery} {s.address}" for s in entry.services),
        "fields": "; ".join(f"{f.name}={f.sharing}{_mask_text(f.mask)}" for f in entry.fields),
    }


def export_catalog(catalog: Catalog, fmt: Literal["json", "csv"]) -> str:
    """The whole catalog as text: a JSON list of entries, or CSV with a header row."""
    entries = catalog_entries(catalog)
    if fmt == "json":
        listed = [entry.model_dump(mode="json") for entry in entries]
        return json.dumps(listed, ensure_ascii=False, indent=2) + "\n"
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    for entry in entries:
        writer.writerow(_csv_row(entry))
    return out.getvalue()
