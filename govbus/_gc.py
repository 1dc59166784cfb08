"""Pausing Python's cyclic garbage collector around allocation-heavy hot loops."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Batches allocate a few objects per event, none in cycles (refcounting frees them),
    yet each burst triggers collections that walk the whole heap. Pause the cyclic
    collector for the batch only, then restore its state."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
