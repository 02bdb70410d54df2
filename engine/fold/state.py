"""The state surface the fold reads and writes, and an in-memory implementation.

The fold sees only ``get``/``put``/``delete`` of JSON-able dicts by key, and ``scan`` of
a key prefix in key order. Workers give it a RocksDB transaction (``engine.store``);
clients and tests give it a ``MemoryState``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol


class State(Protocol):
    def get(self, key: bytes) -> dict | None: ...
    def put(self, key: bytes, value: dict) -> None: ...
    def delete(self, key: bytes) -> None: ...
    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, dict]]: ...


class MemoryState:
    """The fold's state in a dict: for clients that fold some executions, and for tests."""

    def __init__(self):
        self.data: dict[bytes, dict] = {}

    def get(self, key: bytes) -> dict | None:
        return self.data.get(key)

    def put(self, key: bytes, value: dict) -> None:
        self.data[key] = value

    def delete(self, key: bytes) -> None:
        self.data.pop(key, None)

    def scan(self, prefix: bytes, start: bytes = b"") -> Iterator[tuple[bytes, dict]]:
        """Every key under ``prefix`` (from ``start`` on, if later), in key order."""
        for key in sorted(k for k in self.data if k.startswith(prefix) and k >= start):
            yield key, self.data[key]

    def scan_back(self, prefix: bytes, end: bytes) -> Iterator[tuple[bytes, dict]]:
        """Every key under ``prefix`` before ``end``, last key first."""
        for key in sorted((k for k in self.data if k.startswith(prefix) and k < end), reverse=True):
            yield key, self.data[key]
