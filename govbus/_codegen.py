"""A small builder for the Python source of generated functions (the Avro codecs)."""

from __future__ import annotations

from typing import Any


class SourceBuilder:
    """Collects indented lines; schema values become named constants, not literals."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self._names = 0

    def constant(self, value: Any) -> str:
        name = f"_k{len(self.constants)}"
        self.constants[name] = value
        return name

    def local(self) -> str:
        self._names += 1
        return f"v{self._names}"

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)
