"""Changes over a store that are never written: the records a worker has not folded yet,
seen by a reader of its store.

``logloom workflow list`` on the embedded log reads the workers' stores read-only
(``client/worker_stores.py``). Records appended since a store's applied offset are
folded into a ``StoreOverlay`` on top of it, so the reader sees the log's end without
reading the log from offset 0, and without touching the store.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left
from collections.abc import Iterator

from .partition import StorePartition

_GONE = None


class StoreOverlay:
    """The fold's ``State`` surface: reads a store, keeps every change in memory."""

    def __init__(self, store: StorePartition):
        self.store = store
        self._changes: dict[bytes, dict | None] = {}
        self._sorted: list[bytes] | None = []  # the changed keys in order; None: sort again

    def get(self, key: bytes) -> dict | None:
        if key in self._changes:
            return self._changes[key]
        return self.store.get(key)

    def put(self, key: bytes, value: dict) -> None:
        self._change(key, value)

    def delete(self, key: bytes) -> None:
        self._change(key, _GONE)

    def _change(self, key: bytes, value: dict | None) -> None:
        if key not in self._changes:
            self._sorted = None
        self._changes[key] = value

    def scan(self, prefix: bytes, start: bytes = b"") -> Iterator[tuple[bytes, dict]]:
        """The store's keys under ``prefix`` from ``start`` on, merged with the changes,
        lazily, in key order."""
        if self._sorted is None:
            self._sorted = sorted(self._changes)
        changed = self._changed(prefix, max(prefix, start))
        stored = ((k, v) for k, v in self.store.scan(prefix, start) if k not in self._changes)
        for key, value in heapq.merge(changed, stored, key=lambda kv: kv[0]):
            if value is not _GONE:
                yield key, value

    def scan_back(self, prefix: bytes, end: bytes) -> Iterator[tuple[bytes, dict]]:
        """The store's keys under ``prefix`` before ``end`` merged with the changes,
        lazily, last key first."""
        if self._sorted is None:
            self._sorted = sorted(self._changes)
        changed = self._changed_back(prefix, end)
        stored = ((k, v) for k, v in self.store.scan_back(prefix, end) if k not in self._changes)
        for key, value in heapq.merge(changed, stored, key=lambda kv: kv[0], reverse=True):
            if value is not _GONE:
                yield key, value

    def _changed_back(self, prefix: bytes, end: bytes) -> Iterator[tuple[bytes, dict | None]]:
        keys = self._sorted
        i = bisect_left(keys, end) - 1
        while i >= 0 and keys[i].startswith(prefix):
            yield keys[i], self._changes[keys[i]]
            i -= 1

    def _changed(self, prefix: bytes, first: bytes) -> Iterator[tuple[bytes, dict | None]]:
        keys = self._sorted
        i = bisect_left(keys, first)
        while i < len(keys) and keys[i].startswith(prefix):
            yield keys[i], self._changes[keys[i]]
            i += 1
