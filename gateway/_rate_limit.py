"""Token buckets by key (a principal, or a client address), bounded in the keys they keep."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict


class RateLimiter:
    """`rate` requests a second on average, up to `burst` at once, per key."""

    def __init__(self, rate: float, burst: float, max_keys: int = 10_000) -> None:
        self.rate = rate
        self.burst = burst
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, at
        self._max_keys = max_keys
        self._lock = threading.Lock()

    def _level(self, key: str, at: float) -> float:
        tokens, since = self._buckets.get(key, (self.burst, at))
        return min(self.burst, tokens + (at - since) * self.rate)

    def _retry_after(self, tokens: float) -> int:
        return max(1, math.ceil((1 - tokens) / self.rate)) if self.rate > 0 else 3600

    def blocked_for(self, key: str) -> int:
        """Seconds until `key` may try again (0: it may now); takes nothing."""
        with self._lock:
            tokens = self._level(key, time.monotonic())
        return 0 if tokens >= 1 else self._retry_after(tokens)

    def take(self, key: str) -> int:
        """Spend one request of `key`: 0 when allowed, else the seconds to wait."""
        at = time.monotonic()
        with self._lock:
            tokens = self._level(key, at)
            allowed = tokens >= 1
            self._buckets[key] = (tokens - 1 if allowed else tokens, at)
            self._buckets.move_to_end(key)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)  # the oldest: forgetting it only forgives
        return 0 if allowed else self._retry_after(tokens)
