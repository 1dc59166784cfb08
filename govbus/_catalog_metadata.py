"""The core metadata of a catalog entry, after GB/T 21063.3 (政务信息资源目录体系 核心元数据).

The title (信息资源名称) and abstract (信息资源摘要) are the resource's `name` and
`description`, and its provider (信息资源提供方) is `Resource.provider`; the other core
elements live in the resource's `metadata:` block, modelled here.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# 信息资源标识符 (GB/T 21063.5): front code (the category's class code) / back code (sequence).
RESOURCE_ID_SHAPE = r"^[0-9A-Z]{1,16}/[0-9]{6}$"
_URL_SHAPE = re.compile(r"https?://[^\s/?#]+[^\s]*")

Delivery = Literal["kafka", "http", "lookup"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Category(_Frozen):
    """信息资源分类: a class of the catalog's classification (GB/T 21063.4)."""

    code: str = Field(pattern=r"^[0-9A-Z]{1,16}$")
    name: str = Field(min_length=1, max_length=100)


class Service(_Frozen):
    """服务信息: one way the resource is served, and where."""

    delivery: Delivery
    address: str = Field(min_length=1, max_length=200)


class CoreMetadata(_Frozen):
    resource_id: str = Field(pattern=RESOURCE_ID_SHAPE)  # 信息资源标识符
    category: Category  # 信息资源分类
    metadata_id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")  # 元数据标识符
    published: dt.date  # 发布日期
    keywords: tuple[str, ...] = Field(min_length=1)  # 关键字说明
    online_link: str  # 在线资源链接地址
    services: tuple[Service, ...] = Field(min_length=1)  # 服务信息
    maintainer: str  # 元数据维护方: a department code, checked against the catalog
    updated: dt.date  # 元数据更新日期

    @field_validator("keywords")
    @classmethod
    def _plain_keywords(cls, keywords: tuple[str, ...]) -> tuple[str, ...]:
        for word in keywords:
            if not word.strip() or len(word) > 40:
                raise ValueError("each keyword is 1 to 40 characters, not blank")
        if len(set(keywords)) != len(keywords):
            raise ValueError("a keyword is listed twice")
        return keywords

    @field_validator("online_link")
    @classmethod
    def _url(cls, link: str) -> str:
        if not _URL_SHAPE.fullmatch(link) or len(link) > 500:
            raise ValueError("must be an http(s) URL")
        return link

    @model_validator(mode="after")
    def _consistent(self) -> CoreMetadata:
        front = self.resource_id.split("/", 1)[0]
        if front != self.category.code:
            raise ValueError(
                f"resource_id front code {front!r} is not the category code "
                f"{self.category.code!r} (GB/T 21063.5: <class code>/<sequence>)"
            )
        if self.updated < self.published:
            raise ValueError("updated (元数据更新日期) is before published (发布日期)")
        deliveries = [s.delivery for s in self.services]
        if len(set(deliveries)) != len(deliveries):
            raise ValueError("services lists a delivery twice")
        return self
