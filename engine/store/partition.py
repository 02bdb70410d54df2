"""Local state derived from the log: one RocksDB per partition.

Names follow Kafka Streams and Quix Streams: a ``StorePartition`` holds the state of one
partition; a ``PartitionTransaction`` collects the changes of one batch of records and
commits them together with the applied offset in one atomic write batch. Deleting a
store loses nothing: the processor replays the partition from offset 0.

Both offer the fold's ``State`` surface (``engine.fold.state``); the keys and what they
hold are in ``engine.fold.keys``.
"""

from __future__ import annotations

import logging
import os
import shutil
import struct
from bisect import bisect_left, insort
from collections.abc import Iterator
from pathlib import Path

import orjson
from rocksdict import AccessType, Rdict, WriteBatch

from ..fold import run_index
from ..fold.keys import APPLIED_KEY
from .memory import StoreMemory

_OFFSET = struct.Struct(">q")
log = logging.getLogger(__name__)


class StorePartition:
    """The RocksDB store of one partition at ``<data-dir>/<namespace>/<partition>``."""

    def __init__(self, path: str | os.PathLike, memory: StoreMemory | None = None, *, read_only: bool = False):
        """``memory``: the block cache and memtable budget shared with the worker's other
        stores (``store.memory``); a store of its own budget when not given.
        ``read_only``: a consistent view of a store as of now, even one a worker is
        writing in another process (``logloom replay verify``); it never writes."""
        self.path = Path(path)
        self.memory = memory or StoreMemory()
        if read_only:
            self._db = Rdict(str(self.path), self.memory.options(), access_type=AccessType.read_only())
            return
        self.path.mkdir(parents=True, exist_ok=True)
        self._db = Rdict(str(self.path), self.memory.options())
        if not run_index.is_indexed(self):
            self._index_rows()

    def _index_rows(self) -> None:
        """Give a store written before the run index its index keys, from its rows
        (``fold/run_index.py``), in batches, then record that it has them."""
        writer = _BatchWriter(self)
        run_index.index_rows(writer)
        writer.flush()

    def memtable_bytes(self) -> int:
        """RocksDB's ``cur-size-all-mem-tables`` of this store: written, not yet flushed."""
        return self._db.property_int_value("rocksdb.cur-size-all-mem-tables") or 0

    def table_readers_bytes(self) -> int:
        """RocksDB's ``estimate-table-readers-mem``: what its open SST files hold outside
        the block cache (their readers, and index and filter blocks not in the cache)."""
        return self._db.property_int_value("rocksdb.estimate-table-readers-mem") or 0

    def applied_offset(self) -> int:
        """The last offset folded into this store, or -1 for an empty store."""
        raw = self._db.get(APPLIED_KEY)
        return _OFFSET.unpack(raw)[0] if raw is not None else -1

    def get(self, key: bytes) -> dict | None:
        raw = self._db.get(key)
        return orjson.loads(raw) if raw is not None else None

    def scan(self, prefix: bytes, start: bytes = b"") -> Iterator[tuple[bytes, dict]]:
        """Every key under ``prefix`` (from ``start`` on, if later), in key order."""
        it = self._db.iter()
        it.seek(max(prefix, start))
        while it.valid():
            key = it.key()
            if not key.startswith(prefix):
                return
            yield key, orjson.loads(it.value())
            it.next()

    def scan_back(self, prefix: bytes, end: bytes) -> Iterator[tuple[bytes, dict]]:
        """Every key under ``prefix`` before ``end`` (at most the prefix's end), newest
        key first."""
        it = self._db.iter()
        it.seek_for_prev(end)
        while it.valid():
            key = it.key()
            if key < end:
                if not key.startswith(prefix):
                    return
                yield key, orjson.loads(it.value())
            it.prev()

    def items(self) -> Iterator[tuple[bytes, bytes]]:
        """Every raw key and value, in key order (for audits and tests)."""
        return iter(self._db.items())

    def write(self, batch: WriteBatch) -> None:
        self._db.write(batch)

    def transaction(self) -> PartitionTransaction:
        return PartitionTransaction(self)

    def close(self) -> None:
        """Close it. A store that cannot be written any more (a full disk) cannot flush its
        memtable either: that is logged, not raised; what it committed is in its WAL."""
        try:
            self._db.close()
        except Exception as exc:
            log.error("store %s: closing it failed: %s", self.path, exc)

    @staticmethod
    def destroy(path: str | os.PathLike) -> None:
        shutil.rmtree(path, ignore_errors=True)


class _BatchWriter:
    """The fold's ``State`` surface over a store, writing puts straight to it in batches
    (for a one-off pass over many rows, which a transaction would hold in memory)."""

    BATCH = 10_000

    def __init__(self, store: StorePartition):
        self._store = store
        self._batch = WriteBatch(raw_mode=True)
        self._pending = 0

    def get(self, key: bytes) -> dict | None:
        return self._store.get(key)

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, dict]]:
        return self._store.scan(prefix)

    def put(self, key: bytes, value: dict) -> None:
        self._batch.put(key, orjson.dumps(value))
        self._pending += 1
        if self._pending >= self.BATCH:
            self.flush()

    def delete(self, key: bytes) -> None:
        self._batch.delete(key)

    def flush(self) -> None:
        self._store.write(self._batch)
        self._batch = WriteBatch(raw_mode=True)
        self._pending = 0


class PartitionTransaction:
    """Changes of one batch of records; ``commit`` writes them and the offset atomically."""

    __slots__ = ("_store", "_changes", "_keys")

    def __init__(self, store: StorePartition):
        self._store = store
        self._changes: dict[bytes, dict | None] = {}
        self._keys: list[bytes] = []  # the keys of ``_changes``, sorted: a scan looks at its prefix only

    def get(self, key: bytes) -> dict | None:
        if key in self._changes:
            return self._changes[key]
        return self._store.get(key)

    def put(self, key: bytes, value: dict) -> None:
        if key not in self._changes:
            insort(self._keys, key)
        self._changes[key] = value

    def delete(self, key: bytes) -> None:
        if key not in self._changes:
            insort(self._keys, key)
        self._changes[key] = None

    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, dict]]:
        merged = dict(self._store.scan(prefix))
        keys = self._keys
        i = bisect_left(keys, prefix)
        while i < len(keys) and keys[i].startswith(prefix):
            merged[keys[i]] = self._changes[keys[i]]
            i += 1
        for key in sorted(merged):
            if merged[key] is not None:
                yield key, merged[key]

    def commit(self, offset: int) -> None:
        """1. stage every change, 2. stage the applied offset, 3. write both in one batch."""
        batch = WriteBatch(raw_mode=True)
        for key, value in self._changes.items():
            if value is None:
                batch.delete(key)
            else:
                batch.put(key, orjson.dumps(value))
        batch.put(APPLIED_KEY, _OFFSET.pack(offset))
        self._store.write(batch)
        self._changes = {}
        self._keys = []
