"""A small thread-safe least-recently-used cache, counting its hits and misses.

Used where a result cannot change under its key: query vectors of one encoder (kb.search) and counts and
facets of one published snapshot, which is never modified (api.serving_db).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LruCache(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self.size = max(0, size)  # 0: nothing is kept, every lookup computes
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_compute(self, key: K, compute: Callable[[], V]) -> tuple[V, bool]:
        """(the value, whether it came from the cache). ``compute`` runs outside the lock, so a slow one does
        not hold up lookups of other keys; two callers missing the same key at once both compute it."""
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key], True
        value = compute()
        with self._lock:
            self.misses += 1
            if self.size:
                self._items[key] = value
                self._items.move_to_end(key)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return value, False

    def __len__(self) -> int:
        return len(self._items)
