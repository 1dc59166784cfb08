"""Avro schema compatibility: can a reader schema read what a writer schema wrote?

Implements the Avro specification's schema-resolution rules (as Avro's Java
`SchemaCompatibility` does) and Confluent Schema Registry's levels on top of them:

- BACKWARD: the new schema reads data written with the latest previous one;
- FORWARD: the latest previous schema reads data written with the new one;
- FULL: both; `*_TRANSITIVE`: against every previous version, not just the latest;
- NONE: no check.

Logical types are checked too (the spec ignores them, but a `date` read as a plain `int`
or a decimal read at another scale silently changes meaning).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
NAMED = frozenset({"record", "error", "enum", "fixed"})
# Writer type -> reader types it resolves to (Avro spec, "Schema Resolution").
PROMOTIONS: dict[str, frozenset[str]] = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}


class CompatibilityLevel(StrEnum):
    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @property
    def transitive(self) -> bool:
        return self.endswith("_TRANSITIVE")

    @property
    def backward(self) -> bool:
        return self.startswith(("BACKWARD", "FULL"))

    @property
    def forward(self) -> bool:
        return self.startswith(("FORWARD", "FULL"))


class SchemaDefinitionError(ValueError):
    """A schema that cannot be resolved (unknown named type, missing `type`, ...)."""


@dataclass(frozen=True)
class Incompatibility:
    """One reason a reader cannot read a writer's data; `path` is a field path like data.name."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"field {self.path}: {self.message}" if self.path else self.message


Node = dict[str, Any]


def normalise(schema: Any) -> Node:
    """Schema JSON to a tree where named references point at their definitions."""
    return _normalise(schema, "", {})


def _full_name(name: str, namespace: str) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _normalise(schema: Any, namespace: str, named: dict[str, Node]) -> Node:
    if isinstance(schema, str):
        if schema in PRIMITIVES:
            return {"type": schema}
        found = named.get(_full_name(schema, namespace)) or named.get(schema)
        if found is None:
            raise SchemaDefinitionError(f"unknown type {schema!r}")
        return found
    if isinstance(schema, list):
        return {"type": "union", "branches": [_normalise(b, namespace, named) for b in schema]}
    if not isinstance(schema, dict) or "type" not in schema:
        raise SchemaDefinitionError(f"not a schema: {str(schema)[:80]}")
    kind = schema["type"]
    if isinstance(kind, (dict, list)) or (isinstance(kind, str) and kind not in _KINDS):
        return _normalise(kind, namespace, named)
    if kind in NAMED:
        return _normalise_named(schema, namespace, named)
    node: Node = {k: v for k, v in schema.items() if k not in ("items", "values")}
    if kind == "array":
        node["items"] = _normalise(schema["items"], namespace, named)
    elif kind == "map":
        node["values"] = _normalise(schema["values"], namespace, named)
    return node


_KINDS = PRIMITIVES | NAMED | {"array", "map"}


def _normalise_named(schema: dict[str, Any], namespace: str, named: dict[str, Node]) -> Node:
    name = schema.get("name")
    if not isinstance(name, str):
        raise SchemaDefinitionError(f"a {schema['type']} needs a name")
    own_namespace = schema.get("namespace", namespace) or ""
    full = _full_name(name, own_namespace)
    inner_namespace = full.rpartition(".")[0]
    node: Node = {k: v for k, v in schema.items() if k != "fields"}
    node["fullname"] = full
    node["shortname"] = full.rpartition(".")[2]
    node["aliases"] = [_full_name(a, inner_namespace) for a in schema.get("aliases", [])]
    named[full] = node  # registered before the fields so recursive records resolve
    if schema["type"] in ("record", "error"):
        fields = []
        for fld in schema.get("fields", []):
            fields.append({**fld, "type": _normalise(fld["type"], inner_namespace, named)})
        node["fields"] = fields
    return node


def describe(node: Node) -> str:
    """Short type description for messages: `string`, `union[null, string]`, `date`."""
    kind = node["type"]
    if kind == "union":
        return "union[" + ", ".join(describe(b) for b in node["branches"]) + "]"
    if kind in NAMED:
        return f"{kind} {node['shortname']}"
    if kind == "array":
        return f"array<{describe(node['items'])}>"
    if kind == "map":
        return f"map<{describe(node['values'])}>"
    logical = node.get("logicalType")
    return f"{kind} ({logical})" if logical else str(kind)


@dataclass(frozen=True)
class _Context:
    reader: str
    writer: str
    reader_is_new: bool


def reader_incompatibilities(
    reader: Any,
    writer: Any,
    *,
    reader_label: str = "the reader",
    writer_label: str = "the writer",
    reader_is_new: bool = True,
) -> list[Incompatibility]:
    """Everything that stops `reader` reading data written with `writer` (schema JSON)."""
    ctx = _Context(reader_label, writer_label, reader_is_new)
    out: list[Incompatibility] = []
    _compare(normalise(reader), normalise(writer), "", ctx, set(), out)
    return out


def _compare(
    reader: Node,
    writer: Node,
    path: str,
    ctx: _Context,
    seen: set[tuple[str, str]],
    out: list[Incompatibility],
) -> None:
    rtype, wtype = reader["type"], writer["type"]
    if wtype == "union":
        # Every branch the writer may have used must be readable.
        for branch in writer["branches"]:
            if rtype == "union" or branch["type"] == "union":
                _compare_to_union(reader, branch, path, ctx, seen, out)
            else:
                _compare(reader, branch, path, ctx, seen, out)
        return
    if rtype == "union":
        _compare_to_union(reader, writer, path, ctx, seen, out)
        return
    if rtype != wtype:
        promotable = rtype in PROMOTIONS.get(wtype, frozenset())
        if promotable and not writer.get("logicalType") and not reader.get("logicalType"):
            return
        out.append(_type_changed(reader, writer, path, ctx))
        return
    if rtype in NAMED:
        if not _names_match(reader, writer):
            out.append(
                Incompatibility(
                    path,
                    f"{describe(writer)} renamed to {describe(reader)} without an alias; "
                    f"{_cannot_read(ctx)}",
                )
            )
            return
        key = (reader["fullname"], writer["fullname"])
        if key in seen:
            return
        seen.add(key)
        if rtype == "enum":
            _compare_enums(reader, writer, path, ctx, out)
        elif rtype == "fixed":
            if reader.get("size") != writer.get("size"):
                out.append(
                    Incompatibility(
                        path,
                        f"fixed size changed from {writer.get('size')} to {reader.get('size')}; "
                        f"{_cannot_read(ctx)}",
                    )
                )
        else:
            _compare_records(reader, writer, path, ctx, seen, out)
        return
    if rtype == "array":
        _compare(reader["items"], writer["items"], f"{path}[]", ctx, seen, out)
    elif rtype == "map":
        _compare(reader["values"], writer["values"], f"{path}{{}}", ctx, seen, out)
    else:
        _compare_logical(reader, writer, path, ctx, out)


def _compare_to_union(
    reader: Node,
    writer: Node,
    path: str,
    ctx: _Context,
    seen: set[tuple[str, str]],
    out: list[Incompatibility],
) -> None:
    """A single writer type must be readable by at least one reader branch."""
    candidates = reader["branches"] if reader["type"] == "union" else [reader]
    attempts: list[tuple[Node, list[Incompatibility]]] = []
    for candidate in candidates:
        attempt: list[Incompatibility] = []
        _compare(candidate, writer, path, ctx, set(seen), attempt)
        if not attempt:
            return
        attempts.append((candidate, attempt))
    # One branch of the same kind: its own problems are the more precise explanation.
    same_kind = [problems for c, problems in attempts if c["type"] == writer["type"]]
    if len(same_kind) == 1:
        out.extend(same_kind[0])
        return
    out.append(
        Incompatibility(
            path,
            f"{describe(writer)} is not among the reader's types {describe(reader)}; "
            f"{_cannot_read(ctx)}",
        )
    )


def _names_match(reader: Node, writer: Node) -> bool:
    if reader["shortname"] == writer["shortname"] or reader["fullname"] == writer["fullname"]:
        return True
    return writer["fullname"] in reader["aliases"] or any(
        a.rpartition(".")[2] == writer["shortname"] for a in reader["aliases"]
    )


def _compare_records(
    reader: Node,
    writer: Node,
    path: str,
    ctx: _Context,
    seen: set[tuple[str, str]],
    out: list[Incompatibility],
) -> None:
    writer_fields = {f["name"]: f for f in writer["fields"]}
    for fld in reader["fields"]:
        field_path = f"{path}.{fld['name']}" if path else fld["name"]
        match = writer_fields.get(fld["name"])
        for alias in fld.get("aliases", []):
            match = match or writer_fields.get(alias)
        if match is not None:
            _compare(fld["type"], match["type"], field_path, ctx, seen, out)
        elif "default" not in fld:
            out.append(Incompatibility(field_path, _missing_field(ctx)))


def _compare_enums(
    reader: Node, writer: Node, path: str, ctx: _Context, out: list[Incompatibility]
) -> None:
    missing = [s for s in writer.get("symbols", []) if s not in reader.get("symbols", [])]
    if missing and "default" not in reader:
        out.append(
            Incompatibility(
                path,
                f"enum {reader['shortname']} lacks symbols {', '.join(missing)} and has no "
                f"default; {_cannot_read(ctx)}",
            )
        )


def _compare_logical(
    reader: Node, writer: Node, path: str, ctx: _Context, out: list[Incompatibility]
) -> None:
    rlogical, wlogical = reader.get("logicalType"), writer.get("logicalType")
    if rlogical != wlogical:
        out.append(_type_changed(reader, writer, path, ctx))
    elif rlogical == "decimal" and (
        reader.get("scale", 0) != writer.get("scale", 0)
        or reader.get("precision", 0) < writer.get("precision", 0)
    ):
        out.append(
            Incompatibility(
                path,
                f"decimal({writer.get('precision')}, {writer.get('scale', 0)}) changed to "
                f"decimal({reader.get('precision')}, {reader.get('scale', 0)}); "
                f"{_cannot_read(ctx)}",
            )
        )


def _type_changed(reader: Node, writer: Node, path: str, ctx: _Context) -> Incompatibility:
    old, new = (writer, reader) if ctx.reader_is_new else (reader, writer)
    return Incompatibility(
        path, f"type changed from {describe(old)} to {describe(new)}; {_cannot_read(ctx)}"
    )


def _missing_field(ctx: _Context) -> str:
    if ctx.reader_is_new:
        return f"added without a default; {_cannot_read(ctx)}"
    return f"removed without a default; {ctx.reader} readers cannot read"


def _cannot_read(ctx: _Context) -> str:
    return f"{ctx.reader} readers cannot read data written with {ctx.writer}"


def check_compatibility(
    candidate: Any,
    previous: Sequence[tuple[str, Any]],
    level: CompatibilityLevel | str,
    *,
    candidate_label: str = "the new schema",
) -> list[Incompatibility]:
    """Check `candidate` against earlier versions (oldest first, as (label, schema) pairs)."""
    level = CompatibilityLevel(level)
    if level is CompatibilityLevel.NONE or not previous:
        return []
    against = previous if level.transitive else previous[-1:]
    out: list[Incompatibility] = []
    for label, schema in reversed(against):
        if level.backward:
            out.extend(
                reader_incompatibilities(
                    candidate,
                    schema,
                    reader_label=candidate_label,
                    writer_label=label,
                    reader_is_new=True,
                )
            )
        if level.forward:
            out.extend(
                reader_incompatibilities(
                    schema,
                    candidate,
                    reader_label=label,
                    writer_label=candidate_label,
                    reader_is_new=False,
                )
            )
    return _unique(out)


def suspected_renames(new: Any, old: Any) -> list[Incompatibility]:
    """Fields that vanish while others appear in the same record, with no alias linking them.

    Avro accepts such a rename when the new field has a default, and readers then silently get
    the default instead of the value; the govbus gate refuses it (docs/events.md).
    """
    out: list[Incompatibility] = []
    _renames(normalise(new), normalise(old), "", set(), out)
    return out


def _renames(new: Node, old: Node, path: str, seen: set[str], out: list[Incompatibility]) -> None:
    if new["type"] == "union" or old["type"] == "union":
        new_branches = new["branches"] if new["type"] == "union" else [new]
        old_branches = old["branches"] if old["type"] == "union" else [old]
        for nb in new_branches:
            for ob in old_branches:
                if nb["type"] == ob["type"] and (nb["type"] not in NAMED or _names_match(nb, ob)):
                    _renames(nb, ob, path, seen, out)
        return
    if new["type"] == "array" and old["type"] == "array":
        _renames(new["items"], old["items"], f"{path}[]", seen, out)
    elif new["type"] == "map" and old["type"] == "map":
        _renames(new["values"], old["values"], f"{path}{{}}", seen, out)
    elif new["type"] in ("record", "error") and old["type"] == new["type"]:
        if new["fullname"] in seen:
            return
        seen.add(new["fullname"])
        old_fields = {f["name"]: f for f in old["fields"]}
        matched: set[str] = set()
        added: list[str] = []
        for fld in new["fields"]:
            name = fld["name"]
            hit = name if name in old_fields else None
            hit = hit or next((a for a in fld.get("aliases", []) if a in old_fields), None)
            field_path = f"{path}.{name}" if path else name
            if hit is None:
                added.append(field_path)
                continue
            matched.add(hit)
            _renames(fld["type"], old_fields[hit]["type"], field_path, seen, out)
        removed = [f"{path}.{n}" if path else n for n in old_fields if n not in matched]
        if added and removed:
            for field_path in added:
                out.append(
                    Incompatibility(
                        field_path,
                        f"added while {', '.join(removed)} was removed: if this is a rename, "
                        f'declare the old name in "aliases" (without one, readers silently '
                        f"get the default instead of the value)",
                    )
                )


def _unique(items: list[Incompatibility]) -> list[Incompatibility]:
    return list(dict.fromkeys(items))
