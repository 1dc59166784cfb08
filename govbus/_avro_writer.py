"""Avro binary writers generated once per schema: fastavro's bytes, about 4x faster.

fastavro's `schemaless_writer` interprets the schema for every record and tries each
branch of every union; a change event has a dozen `["null", T]` unions, so most of its
~10 us goes there. `compile_writer` walks the schema once and generates one straight-line
Python function for it (fields unrolled, strings and unions inlined). Logical types reuse
fastavro's own converters, so the bytes are identical (tests compare them). A schema
using anything not covered here (named references, unions with several non-null
branches, fixed, float/double) gets None and stays on fastavro.

Mismatches raise ValueError, TypeError, KeyError or AttributeError, as fastavro does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastavro.write import LOGICAL_WRITERS

from govbus._codegen import SourceBuilder

Write = Callable[[bytearray, Any], None]

_LONG_MIN = -(1 << 63)
_LONG_MAX = (1 << 63) - 1
_INT_MIN = -(1 << 31)
_INT_MAX = (1 << 31) - 1


class Unsupported(Exception):
    """The schema uses a construct this compiler leaves to fastavro."""


def write_long(out: bytearray, value: int) -> None:
    """Zig-zag varint, Avro's encoding of int and long."""
    if value < _LONG_MIN or value > _LONG_MAX:
        raise ValueError("value out of range for an Avro long")
    n = (value << 1) ^ (value >> 63)
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _write_int(out: bytearray, value: int) -> None:
    if value < _INT_MIN or value > _INT_MAX:
        raise ValueError("value out of range for an Avro int")
    write_long(out, value)


def _write_string(out: bytearray, value: str) -> None:
    encoded = value.encode()
    size = len(encoded)
    if size < 64:  # the usual case: a one-byte length
        out.append(size << 1)
    else:
        write_long(out, size)
    out += encoded


def _write_bytes(out: bytearray, value: bytes) -> None:
    if not isinstance(value, bytes | bytearray):
        raise TypeError("Avro bytes need a bytes value")
    write_long(out, len(value))
    out += value


def _write_boolean(out: bytearray, value: bool) -> None:
    if value is True:
        out.append(1)
    elif value is False:
        out.append(0)
    else:
        raise TypeError("Avro boolean needs a bool value")


def _write_null(out: bytearray, value: None) -> None:
    if value is not None:
        raise TypeError("Avro null needs None")


_PRIMITIVE_WRITERS: dict[str, str] = {
    "null": "_write_null",
    "boolean": "_write_boolean",
    "int": "_write_int",
    "long": "write_long",
    "bytes": "_write_bytes",
}


def compile_writer(schema: Any) -> Write | None:
    """A writer for `schema` (its JSON definition), or None if fastavro must do it."""
    source = _Source()
    try:
        source.write(schema, "value", 1, namespace="")
    except Unsupported:
        return None
    code = "def write(out, value):\n" + "\n".join(source.lines) + "\n"
    scope: dict[str, Any] = {
        "write_long": write_long,
        "_write_int": _write_int,
        "_write_string": _write_string,
        "_write_bytes": _write_bytes,
        "_write_boolean": _write_boolean,
        "_write_null": _write_null,
        **source.constants,
    }
    exec(compile(code, f"<avro writer {schema_label(schema)}>", "exec"), scope)
    writer: Write = scope["write"]
    return writer


def schema_label(schema: Any) -> str:
    return str(schema.get("name", "schema")) if isinstance(schema, dict) else "schema"


class _Source(SourceBuilder):
    """Emits the body of one writer function."""

    def write(self, schema: Any, var: str, depth: int, namespace: str) -> None:
        """Emit code writing the value held in `var` as `schema`."""
        if isinstance(schema, list):
            self._union(schema, var, depth, namespace)
            return
        kind = schema if isinstance(schema, str) else schema.get("type")
        if isinstance(schema, dict):
            logical = schema.get("logicalType")
            if logical is not None and f"{kind}-{logical}" in LOGICAL_WRITERS:
                self._logical(schema, kind, logical, var, depth)
                return
            if kind in _PRIMITIVE_WRITERS or kind == "string":
                self.write(kind, var, depth, namespace)
                return
        if kind == "string":
            self._string(var, depth)
        elif kind in _PRIMITIVE_WRITERS:
            self.emit(depth, f"{_PRIMITIVE_WRITERS[kind]}(out, {var})")
        elif kind == "record" and isinstance(schema, dict):
            self._record(schema, var, depth, namespace)
        elif kind == "enum" and isinstance(schema, dict):
            tags = {symbol: _long_bytes(i) for i, symbol in enumerate(schema["symbols"])}
            self.emit(depth, f"out += {self.constant(tags)}[{var}]")
        elif kind == "array" and isinstance(schema, dict):
            item = self.local()
            self.emit(depth, f"if {var}:")
            self.emit(depth + 1, f"write_long(out, len({var}))")
            self.emit(depth + 1, f"for {item} in {var}:")
            self.write(schema["items"], item, depth + 2, namespace)
            self.emit(depth, "out.append(0)")
        elif kind == "map" and isinstance(schema, dict):
            key, item = self.local(), self.local()
            self.emit(depth, f"if {var}:")
            self.emit(depth + 1, f"write_long(out, len({var}))")
            self.emit(depth + 1, f"for {key}, {item} in {var}.items():")
            self.emit(depth + 2, f"_write_string(out, {key})")
            self.write(schema["values"], item, depth + 2, namespace)
            self.emit(depth, "out.append(0)")
        else:
            raise Unsupported(f"type {kind}")

    def _string(self, var: str, depth: int) -> None:
        encoded = self.local()
        self.emit(depth, f"{encoded} = {var}.encode()")
        self.emit(depth, f"if len({encoded}) < 64:")  # the usual case: a one-byte length
        self.emit(depth + 1, f"out.append(len({encoded}) << 1)")
        self.emit(depth, "else:")
        self.emit(depth + 1, f"write_long(out, len({encoded}))")
        self.emit(depth, f"out += {encoded}")

    def _logical(
        self, schema: dict[str, Any], kind: str, logical: str, var: str, depth: int
    ) -> None:
        if kind not in _PRIMITIVE_WRITERS and kind != "string":
            raise Unsupported(f"logical type {logical} on {kind}")
        prepare = self.constant(LOGICAL_WRITERS[f"{kind}-{logical}"])
        prepared = self.local()
        self.emit(depth, f"{prepared} = {prepare}({var}, {self.constant(schema)})")
        self.write(kind, prepared, depth, "")

    def _record(self, schema: dict[str, Any], var: str, depth: int, namespace: str) -> None:
        inner = schema.get("namespace", namespace)
        for fld in schema["fields"]:
            field_type = fld["type"]
            nullable = isinstance(field_type, list) and "null" in field_type
            name = repr(fld["name"])
            if "default" not in fld and not nullable:
                self.emit(depth, f"if {name} not in {var}:")
                self.emit(depth + 1, f"raise ValueError('no value and no default for ' + {name})")
            value = self.local()
            default = fld.get("default")
            default_expr = repr(default) if default is None else self.constant(default)
            self.emit(depth, f"{value} = {var}.get({name}, {default_expr})")
            self.write(field_type, value, depth, inner)

    def _union(self, branches: list[Any], var: str, depth: int, namespace: str) -> None:
        """Only `["null", T]` and `[T, "null"]`: None takes the null branch, anything else T."""
        if len(branches) != 2 or "null" not in branches:
            raise Unsupported("union other than null and one type")
        null_index = branches.index("null")
        self.emit(depth, f"if {var} is None:")
        self.emit(depth + 1, f"out.append({null_index << 1})")
        self.emit(depth, "else:")
        self.emit(depth + 1, f"out.append({(1 - null_index) << 1})")
        self.write(branches[1 - null_index], var, depth + 1, namespace)


def _long_bytes(value: int) -> bytes:
    out = bytearray()
    write_long(out, value)
    return bytes(out)
