"""Human passwords: salted scrypt, bounded in cost and in concurrency.

Only the credentials file's principals (HTTP Basic clients such as confluent-kafka's
SchemaRegistryClient) have passwords; API tokens need no scrypt (see principals._secrets).
Checks run on a pool of two threads of their own: at most two 16 MiB scrypt buffers exist
at once, and only those two threads' malloc arenas ever hold one (scrypt on any request
thread left a buffer in each thread's arena: 94 MB grew to 411 MB under 16 clients).
An unknown principal is checked against a dummy hash: it costs as much as a wrong secret.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

# scrypt cost of hashes this gateway writes: 16 MiB, tens of milliseconds.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
# The most a stored hash may ask for (a hostile or corrupt row must not exhaust memory).
_SCRYPT_MAX_MEM = 64 * 1024 * 1024


def hash_password(secret: str, *, salt: bytes | None = None) -> str:
    """`scrypt$N$r$p$salt$hash` with a random 16-byte salt."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P)
    return "$".join(
        ["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), salt.hex(), digest.hex()]
    )


def scrypt_matches(secret: str, stored: str) -> bool:
    """Whether `secret` matches a `scrypt$...` hash; False for a malformed or too costly one."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        candidate = hashlib.scrypt(
            secret.encode(),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            maxmem=_SCRYPT_MAX_MEM,
            dklen=len(digest) // 2,
        )
    except ValueError:
        return False
    return hmac.compare_digest(candidate.hex(), digest)


_DUMMY_HASH = hash_password(secrets.token_hex(16))
# One pool for the process, however many checkers (apps, credential files) there are.
_SCRYPT_THREADS = 2
_POOL = ThreadPoolExecutor(_SCRYPT_THREADS, thread_name_prefix="scrypt")


class PasswordChecker:
    """scrypt checks on the process's two scrypt threads, with a small cache of recent successes.

    The cache maps a keyed digest of (name, secret, stored hash) to nothing but its presence:
    a changed or removed password misses it, and no secret is kept in the clear.
    """

    def __init__(self, cache_size: int = 1024) -> None:
        self._cache_key = secrets.token_bytes(32)
        self._cache: OrderedDict[bytes, None] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def matches(self, name: str, secret: str, stored: str | None) -> bool:
        """Whether `secret` is the password; `stored` None (unknown principal) costs the same."""
        if stored is not None:
            remembered = hmac.new(
                self._cache_key, f"{name}\0{secret}\0{stored}".encode(), "sha256"
            ).digest()
            with self._lock:
                if remembered in self._cache:
                    self._cache.move_to_end(remembered)
                    return True
        checked = _POOL.submit(scrypt_matches, secret, stored or _DUMMY_HASH)
        ok = checked.result() and stored is not None
        if ok:
            with self._lock:
                self._cache[remembered] = None
                if len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return ok
