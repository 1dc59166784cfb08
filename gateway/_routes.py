"""The app's routes as templates and methods, read from its OpenAPI document.

Portable across FastAPI versions (whose route objects differ): the 405 `Allow` header and
the access log both ask this table which route a path belongs to.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi import FastAPI

_PARAM = re.compile(r"\{[^}/]+\}")


@dataclass(frozen=True)
class RouteEntry:
    template: str
    regex: re.Pattern[str]
    methods: frozenset[str]


def _compiled(template: str) -> re.Pattern[str]:
    parts = _PARAM.split(template)
    return re.compile("[^/]+".join(re.escape(part) for part in parts))


class RouteTable:
    def __init__(self, app: FastAPI) -> None:
        methods: dict[str, set[str]] = {}
        for template, operations in app.openapi().get("paths", {}).items():
            methods.setdefault(template, set()).update(m.upper() for m in operations)
        for route in app.routes:  # the undocumented ones: /healthz, /openapi.json
            template, verbs = getattr(route, "path", None), getattr(route, "methods", None)
            if isinstance(template, str) and verbs:
                methods.setdefault(template, set()).update(verbs)
        self.entries = tuple(
            RouteEntry(
                template,
                _compiled(template),
                frozenset(verbs | ({"HEAD"} if "GET" in verbs else set())),
            )
            for template, verbs in methods.items()
        )

    def matching(self, path: str) -> list[RouteEntry]:
        return [entry for entry in self.entries if entry.regex.fullmatch(path)]

    def allowed(self, path: str) -> frozenset[str]:
        return frozenset().union(*(entry.methods for entry in self.matching(path)))
