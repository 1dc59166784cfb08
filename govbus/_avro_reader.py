"""Avro binary readers generated once per (writer, reader) schema pair: fastavro's values.

fastavro's `schemaless_reader` interprets both schemas for every record (and needs a file
object); a change event costs it ~11 us. `compile_reader` walks the parsed schemas once
and generates one straight-line Python function reading a `bytes` payload from an offset:
fields unrolled, one-byte varints inlined, `["null", T]` unions inlined. Logical types use
fastavro's own converters, so the values are identical (tests compare them).

Resolution is generated too, for what schema evolution here needs: writer fields the reader
lacks are read and dropped, reader fields the writer lacks take their null default, and
records nested in `["null", record]` unions resolve field by field. Anything else
(aliases, promotions, named references, unions with several non-null branches, fixed,
float/double, boolean, non-null defaults for missing fields) gets None and stays on fastavro.

Bad input raises IndexError or EOFError (truncated), ValueError (bad union or enum index,
negative length, overlong varint, invalid UTF-8) or whatever fastavro's converters raise:
never a wrong value.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fastavro.read import LOGICAL_READERS

from govbus._codegen import SourceBuilder

Read = Callable[[bytes, int], tuple[Any, int]]
"""`read(payload, offset)` → (value, offset after it)."""


class Unsupported(Exception):
    """The schemas use a construct this compiler leaves to fastavro."""


def read_long(data: bytes, pos: int) -> tuple[int, int]:
    """Zig-zag varint at `pos` (at most 10 bytes, as for a 64-bit long)."""
    n = shift = 0
    while True:
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return (n >> 1) ^ -(n & 1), pos
        shift += 7
        if shift >= 70:
            raise ValueError("Avro varint longer than 10 bytes")


def read_bytes(data: bytes, pos: int) -> tuple[bytes, int]:
    size, pos = read_long(data, pos)
    end = pos + size
    if size < 0 or end > len(data):
        raise EOFError(f"Avro bytes of {size} bytes at {pos} run past the end")
    return data[pos:end], end


def read_string(data: bytes, pos: int) -> tuple[str, int]:
    value, pos = read_bytes(data, pos)
    return value.decode(), pos


def _strip(schema: Any) -> Any:
    """A parsed schema without fastavro's bookkeeping and documentation, for comparison."""
    if isinstance(schema, dict):
        return {k: _strip(v) for k, v in schema.items() if not k.startswith("__") and k != "doc"}
    if isinstance(schema, list):
        return [_strip(v) for v in schema]
    return schema


def same_schema(writer: Any, reader: Any) -> bool:
    return json.dumps(_strip(writer), sort_keys=True) == json.dumps(_strip(reader), sort_keys=True)


def compile_reader(writer: Any, reader: Any | None = None) -> Read | None:
    """A reader of `writer`-encoded values resolved to `reader` (parsed schemas), or None."""
    source = _Source()
    reader = writer if reader is None else reader
    try:
        source.read(writer, reader, "value", 1)
    except Unsupported:
        return None
    code = "def read(data, pos):\n" + "\n".join(source.lines) + "\n    return value, pos\n"
    scope: dict[str, Any] = {
        "read_long": read_long,
        "read_bytes": read_bytes,
        "read_string": read_string,
        **source.constants,
    }
    label = reader.get("name", "schema") if isinstance(reader, dict) else "schema"
    exec(compile(code, f"<avro reader {label}>", "exec"), scope)
    read: Read = scope["read"]
    return read


_LONG_KINDS = ("int", "long")


class _Source(SourceBuilder):
    """Emits the body of one reader function."""

    def read(self, writer: Any, reader: Any, var: str, depth: int) -> None:
        """Emit code reading a `writer` value into `var`, as `reader` wants it."""
        if isinstance(writer, list) or isinstance(reader, list):
            self._union(writer, reader, var, depth)
            return
        if not same_schema(writer, reader):
            if not (
                isinstance(writer, dict)
                and isinstance(reader, dict)
                and writer.get("type") == reader.get("type") == "record"
                and writer.get("name") == reader.get("name")
            ):
                raise Unsupported("schema resolution other than records")
            self._record(writer, reader, var, depth)
            return
        kind = writer if isinstance(writer, str) else writer.get("type")
        if isinstance(writer, dict) and "logicalType" in writer:
            self._logical(writer, kind, var, depth)
        elif kind == "null":
            self.emit(depth, f"{var} = None")
        elif kind in _LONG_KINDS:
            self._long(var, depth)
        elif kind == "string":
            self._bytes(var, depth, decode=True)
        elif kind == "bytes":
            self._bytes(var, depth, decode=False)
        elif kind == "record":
            self._record(writer, writer, var, depth)
        elif kind == "enum":
            index = self.local()
            self._long(index, depth)
            symbols = self.constant(tuple(writer["symbols"]))
            self.emit(depth, f"if {index} < 0:")
            self.emit(depth + 1, "raise ValueError('negative Avro enum index')")
            self.emit(depth, f"{var} = {symbols}[{index}]")
        elif kind == "array":
            self._blocks(writer["items"], var, depth, is_map=False)
        elif kind == "map":
            self._blocks(writer["values"], var, depth, is_map=True)
        else:
            raise Unsupported(f"type {kind}")

    def _long(self, var: str, depth: int) -> None:
        """Inline the one-byte varint; longer ones go through `read_long`."""
        self.emit(depth, f"{var} = data[pos]")
        self.emit(depth, f"if {var} < 0x80:")
        self.emit(depth + 1, "pos += 1")
        self.emit(depth + 1, f"{var} = ({var} >> 1) ^ -({var} & 1)")
        self.emit(depth, "else:")
        self.emit(depth + 1, f"{var}, pos = read_long(data, pos)")

    def _bytes(self, var: str, depth: int, *, decode: bool) -> None:
        size = self.local()
        self._long(size, depth)
        self.emit(depth, f"if {size} < 0 or pos + {size} > len(data):")
        self.emit(depth + 1, f"raise EOFError('Avro value of ' + str({size}) + ' bytes')")
        suffix = ".decode()" if decode else ""
        self.emit(depth, f"{var} = data[pos:pos + {size}]{suffix}")
        self.emit(depth, f"pos += {size}")

    def _logical(self, schema: dict[str, Any], kind: str, var: str, depth: int) -> None:
        logical = schema["logicalType"]
        convert = LOGICAL_READERS.get(f"{kind}-{logical}")
        if convert is None or kind not in (*_LONG_KINDS, "bytes", "string"):
            raise Unsupported(f"logical type {logical} on {kind}")
        raw = self.local()
        self.read(kind, kind, raw, depth)
        schema_name = self.constant(schema)
        self.emit(depth, f"{var} = {self.constant(convert)}({raw}, {schema_name}, {schema_name})")

    def _blocks(self, items: Any, var: str, depth: int, *, is_map: bool) -> None:
        """Arrays and maps: blocks of items, a negative count followed by a byte size."""
        count, item, key = self.local(), self.local(), self.local()
        self.emit(depth, f"{var} = {{}}" if is_map else f"{var} = []")
        self._long(count, depth)
        self.emit(depth, f"while {count}:")
        self.emit(depth + 1, f"if {count} < 0:")
        self.emit(depth + 2, f"{count} = -{count}")
        self.emit(depth + 2, "_, pos = read_long(data, pos)")
        self.emit(depth + 1, f"for _ in range({count}):")
        if is_map:
            self._bytes(key, depth + 2, decode=True)
        self.read(items, items, item, depth + 2)
        self.emit(depth + 2, f"{var}[{key}] = {item}" if is_map else f"{var}.append({item})")
        self._long(count, depth + 1)

    def _record(self, writer: dict[str, Any], reader: dict[str, Any], var: str, depth: int) -> None:
        if "aliases" in reader or any("aliases" in f for f in reader["fields"]):
            raise Unsupported("aliases")
        wanted = {f["name"]: f for f in reader["fields"]}
        read: dict[str, str] = {}
        for fld in writer["fields"]:
            value = self.local()
            target = wanted.get(fld["name"])
            self.read(fld["type"], fld["type"] if target is None else target["type"], value, depth)
            if target is not None:
                read[fld["name"]] = value
        items = []
        for name, fld in wanted.items():
            if name in read:
                items.append(f"{name!r}: {read[name]}")
            elif "default" in fld and fld["default"] is None:
                items.append(f"{name!r}: None")
            else:  # fastavro fills other defaults (or fails): leave it to fastavro
                raise Unsupported(f"missing field {name} without a null default")
        self.emit(depth, f"{var} = {{{', '.join(items)}}}")

    def _union(self, writer: Any, reader: Any, var: str, depth: int) -> None:
        """`["null", T]` on both sides (either order), T resolving to the reader's T."""
        if not (isinstance(writer, list) and isinstance(reader, list)):
            raise Unsupported("union resolved to or from a non-union")
        for branches in (writer, reader):
            if len(branches) != 2 or "null" not in branches:
                raise Unsupported("union other than null and one type")
        null_index = writer.index("null")
        w_type, r_type = writer[1 - null_index], reader[1 - reader.index("null")]
        index = self.local()
        self._long(index, depth)
        self.emit(depth, f"if {index} == {null_index}:")
        self.emit(depth + 1, f"{var} = None")
        self.emit(depth, f"elif {index} == {1 - null_index}:")
        self.read(w_type, r_type, var, depth + 1)
        self.emit(depth, "else:")
        self.emit(depth + 1, f"raise ValueError('Avro union index ' + str({index}))")
