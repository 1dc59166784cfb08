"""URLs and DSNs as they may be shown: passwords removed."""

from __future__ import annotations

import re

_KEYWORD_PASSWORD = re.compile(r"(?i)\b(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")
_QUERY_PASSWORD = re.compile(r"(?i)([?&]password=)[^&#]*")
HIDDEN = "***"


def redact_url(url: str) -> str:
    """`postgresql://user:***@host/db`: the URL or key=value DSN without its password."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _KEYWORD_PASSWORD.sub(rf"\g<1>{HIDDEN}", url)
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    netloc, tail = rest[:end], rest[end:]
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user, colon, _password = userinfo.partition(":")
        netloc = f"{user}:{HIDDEN}@{host}" if colon else f"{user}@{host}"
    return f"{scheme}://{netloc}" + _QUERY_PASSWORD.sub(rf"\g<1>{HIDDEN}", tail)
