"""Avro schema-resolution rules and Confluent's levels."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from govbus import SchemaRepository
from govbus._compat import (
    CompatibilityLevel,
    check_compatibility,
    reader_incompatibilities,
    suspected_renames,
)
from govbus._settings import REPO_ROOT

REPO = SchemaRepository(REPO_ROOT / "schemas" / "avro")
V1 = REPO.versions("legal_entity_changed")[0].definition
V2 = REPO.versions("legal_entity_changed")[1].definition


def record(*fields: dict[str, Any], name: str = "R") -> dict[str, Any]:
    return {"type": "record", "name": name, "fields": list(fields)}


def data_fields(schema: dict[str, Any]) -> list[dict[str, Any]]:
    data = next(f for f in schema["fields"] if f["name"] == "data")
    fields: list[dict[str, Any]] = data["type"][1]["fields"]
    return fields


def problems(new: Any, old: Any, level: str = "BACKWARD") -> list[str]:
    return [str(p) for p in check_compatibility(new, [("v1", old)], level, candidate_label="v2")]


def test_shipped_additive_change_is_fully_compatible() -> None:
    assert problems(V2, V1, "FULL_TRANSITIVE") == []


def test_field_removed_without_default_breaks_old_readers() -> None:
    old = record({"name": "a", "type": "string"}, {"name": "b", "type": "string"})
    new = record({"name": "a", "type": "string"})
    assert problems(new, old, "BACKWARD") == []  # new readers ignore b
    assert problems(new, old, "FORWARD") == [
        "field b: removed without a default; v1 readers cannot read"
    ]


def test_field_added_without_default_breaks_new_readers() -> None:
    old = record({"name": "a", "type": "string"})
    new = record({"name": "a", "type": "string"}, {"name": "b", "type": "int"})
    assert problems(new, old) == [
        "field b: added without a default; v2 readers cannot read data written with v1"
    ]
    with_default = record(
        {"name": "a", "type": "string"}, {"name": "b", "type": "int", "default": 0}
    )
    assert problems(with_default, old, "FULL") == []


def test_nested_type_change_names_the_path() -> None:
    new = copy.deepcopy(V2)
    next(f for f in data_fields(new) if f["name"] == "name")["type"] = ["null", "int"]
    found = problems(new, V2)
    assert len(found) == 1
    assert found[0].startswith("field data.name: ")
    assert "v2 readers cannot read data written with v1" in found[0]


@pytest.mark.parametrize(
    ("writer", "reader", "ok"),
    [
        ("int", "long", True),
        ("int", "float", True),
        ("int", "double", True),
        ("long", "double", True),
        ("float", "double", True),
        ("string", "bytes", True),
        ("bytes", "string", True),
        ("long", "int", False),
        ("double", "float", False),
        ("string", "int", False),
        ("boolean", "string", False),
    ],
)
def test_promotions(writer: str, reader: str, ok: bool) -> None:
    found = reader_incompatibilities(
        record({"name": "x", "type": reader}), record({"name": "x", "type": writer})
    )
    assert (not found) is ok


def test_unions() -> None:
    narrow = record({"name": "x", "type": ["null", "string"]})
    wide = record({"name": "x", "type": ["null", "string", "long"]})
    plain = record({"name": "x", "type": "string"})
    assert reader_incompatibilities(wide, narrow) == []  # reader may add branches
    assert [p.path for p in reader_incompatibilities(narrow, wide)] == ["x"]
    assert reader_incompatibilities(narrow, plain) == []  # non-union writer into a union
    assert [p.path for p in reader_incompatibilities(plain, narrow)] == ["x"]  # null unreadable


def test_enum_symbols_and_default() -> None:
    def enum(symbols: list[str], **extra: Any) -> dict[str, Any]:
        return record(
            {"name": "s", "type": {"type": "enum", "name": "S", "symbols": symbols, **extra}}
        )

    assert reader_incompatibilities(enum(["A", "B"]), enum(["A"])) == []
    assert [p.path for p in reader_incompatibilities(enum(["A"]), enum(["A", "B"]))] == ["s"]
    assert reader_incompatibilities(enum(["A"], default="A"), enum(["A", "B"])) == []


def test_rename_needs_an_alias() -> None:
    old = record({"name": "full_name", "type": "string"})
    renamed = record({"name": "name", "type": "string"})
    aliased = record({"name": "name", "type": "string", "aliases": ["full_name"]})
    assert [p.path for p in reader_incompatibilities(renamed, old)] == ["name"]
    assert reader_incompatibilities(aliased, old) == []
    # With a default Avro accepts the rename and silently loses values; the gate does not.
    renamed_default = record({"name": "name", "type": "string", "default": ""})
    assert reader_incompatibilities(renamed_default, old) == []
    assert [p.path for p in suspected_renames(renamed_default, old)] == ["name"]
    assert (
        suspected_renames(
            record({"name": "name", "type": "string", "default": "", "aliases": ["full_name"]}), old
        )
        == []
    )


def test_record_rename_needs_alias_and_nested_arrays_maps() -> None:
    old = record(
        {
            "name": "xs",
            "type": {
                "type": "array",
                "items": record(
                    {"name": "m", "type": {"type": "map", "values": "int"}}, name="Item"
                ),
            },
        }
    )
    new = copy.deepcopy(old)
    new["fields"][0]["type"]["items"]["fields"][0]["type"]["values"] = "string"
    assert [p.path for p in reader_incompatibilities(new, old)] == ["xs[].m{}"]
    renamed = copy.deepcopy(old)
    renamed["fields"][0]["type"]["items"]["name"] = "Entry"
    assert "renamed" in str(reader_incompatibilities(renamed, old)[0])
    renamed["fields"][0]["type"]["items"]["aliases"] = ["Item"]
    assert reader_incompatibilities(renamed, old) == []


def test_logical_types() -> None:
    date = record({"name": "d", "type": {"type": "int", "logicalType": "date"}})
    plain = record({"name": "d", "type": "int"})
    assert [p.path for p in reader_incompatibilities(plain, date)] == ["d"]

    def dec(precision: int, scale: int) -> dict[str, Any]:
        return record(
            {
                "name": "c",
                "type": {
                    "type": "bytes",
                    "logicalType": "decimal",
                    "precision": precision,
                    "scale": scale,
                },
            }
        )

    assert reader_incompatibilities(dec(22, 2), dec(20, 2)) == []
    assert [p.path for p in reader_incompatibilities(dec(20, 3), dec(20, 2))] == ["c"]


def test_levels_transitive_and_none() -> None:
    a = record({"name": "x", "type": "int"})
    b = record({"name": "x", "type": "long"})
    c = record({"name": "x", "type": "long"}, {"name": "y", "type": "string"})
    chain = [("v1", a), ("v2", b)]
    assert check_compatibility(c, chain, CompatibilityLevel.BACKWARD) != []
    assert check_compatibility(b, chain[:1], "BACKWARD") == []
    assert check_compatibility(b, chain[:1], "FORWARD") != []  # int readers, long data
    transitive = check_compatibility(a, chain, "FORWARD_TRANSITIVE")
    assert transitive == []  # int data is readable by int and long readers
    assert check_compatibility(c, chain, "NONE") == []
    # Only the transitive level sees the oldest version.
    d = record({"name": "x", "type": "long"}, {"name": "z", "type": "int", "default": 0})
    older = [("v1", record({"name": "x", "type": "string"})), ("v2", b)]
    assert check_compatibility(d, older, "BACKWARD") == []
    assert [p.path for p in check_compatibility(d, older, "BACKWARD_TRANSITIVE")] == ["x"]
