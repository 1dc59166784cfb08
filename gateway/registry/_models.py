"""Request and response bodies of the Confluent Schema Registry REST API."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class SchemaRequest(BaseModel):
    # Newer clients also send metadata, ruleSet, ...: accepted and ignored.
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    schema_text: str = Field(alias="schema", min_length=1)
    schema_type: str = Field(default="AVRO", alias="schemaType")
    references: list[dict[str, Any]] | None = None


class ConfigRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    compatibility: str = Field(min_length=1, max_length=40)
