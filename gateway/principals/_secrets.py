"""API tokens, checked by keyed SHA-256 (no scrypt: 256 random bits need no stretching).

A token is `gbt_<id>_<secret>`: 64 bits of id find its row without scanning, 256 bits of
secret. Only HMAC-SHA256(server key, token) is stored, so the database alone can neither
mint nor check tokens.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

TOKEN_PREFIX = "gbt"
_ID_HEX, _SECRET_HEX = 16, 64  # 64-bit id, 256-bit secret
KEY_BYTES = 32


class TokenKeyError(ValueError):
    """The server key for token digests is missing or unusable; the gateway refuses to start."""

    def __init__(self, message: str, code: str = "TOKEN_KEY_INVALID") -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ParsedToken:
    token_id: str
    full: str


def new_token() -> tuple[str, str]:
    """(token id, token): the token is shown once and never stored."""
    token_id = secrets.token_hex(_ID_HEX // 2)
    return token_id, f"{TOKEN_PREFIX}_{token_id}_{secrets.token_hex(_SECRET_HEX // 2)}"


def parse_token(value: str) -> ParsedToken | None:
    """The token's id when `value` has the token shape, else None (then it is no token)."""
    prefix, _, rest = value.partition("_")
    token_id, _, secret = rest.partition("_")
    if prefix != TOKEN_PREFIX or len(token_id) != _ID_HEX or len(secret) != _SECRET_HEX:
        return None
    if not all(c in "0123456789abcdef" for c in token_id + secret):
        return None
    return ParsedToken(token_id, value)


def load_token_key(path: Path, *, create: bool) -> bytes:
    """The server key from `path`; with `create`, a new random key is written when absent."""
    if create and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first: read theirs
        else:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(KEY_BYTES) + "\n")
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise TokenKeyError(
            f"{path}: cannot read the token key: {exc}", "TOKEN_KEY_MISSING"
        ) from exc
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < KEY_BYTES:
        raise TokenKeyError(f"{path}: the token key must be at least {KEY_BYTES * 2} hex digits")
    return key


def token_digest(key: bytes, token: str) -> str:
    return hmac.new(key, token.encode(), hashlib.sha256).hexdigest()
