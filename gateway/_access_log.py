"""The access log records routes, not paths: no query strings and no path values.

A path value may be personal (`/v1/persons/{id_number}`, a subject named after an identity
number), and so may a query. The rule is by route: uvicorn's access line gets the route's
template (`GET /subjects/{subject}/versions`), a path no route serves becomes `(no route)`.
"""

from __future__ import annotations

import logging
import re
import threading
from urllib.parse import unquote

from govbus.gateway._routes import RouteTable

ACCESS_LOGGER = "uvicorn.access"
NO_ROUTE = "(no route)"
_PATH_ARG = 2  # uvicorn: '%s - "%s %s HTTP/%s" %d' % (client, method, path, version, status)


class AccessLogScrubber(logging.Filter):
    """Rewrites the path of each access line to the template of the route it matches."""

    def __init__(self) -> None:
        super().__init__()
        self._routes: dict[str, re.Pattern[str]] = {}
        self._lock = threading.Lock()

    def learn(self, table: RouteTable) -> None:
        with self._lock:
            for entry in table.entries:
                self._routes.setdefault(entry.template, entry.regex)

    def template(self, logged_path: str) -> str:
        path = unquote(logged_path.partition("?")[0])
        with self._lock:
            routes = list(self._routes.items())
        for template, regex in routes:
            if regex.fullmatch(path):
                return template
        return NO_ROUTE

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) > _PATH_ARG:
            path = args[_PATH_ARG]
            if isinstance(path, str):
                record.args = (*args[:_PATH_ARG], self.template(path), *args[_PATH_ARG + 1 :])
        return True


_SCRUBBER = AccessLogScrubber()


def scrub_access_log(table: RouteTable) -> AccessLogScrubber:
    """Install the scrubber on uvicorn's access logger (once) and teach it these routes."""
    _SCRUBBER.learn(table)
    logger = logging.getLogger(ACCESS_LOGGER)
    if _SCRUBBER not in logger.filters:
        logger.addFilter(_SCRUBBER)
    return _SCRUBBER
