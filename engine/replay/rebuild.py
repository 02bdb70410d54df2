"""Replaying the log outside a worker: rebuild a store, for audit, debugging and benchmarks.

``rebuild_partition`` folds a partition into a store with exactly the code a worker
uses (``store.folding.fold_batch``), but never claims the partition and never runs user
code. Started on an existing store it replays only the tail after its applied offset.
"""

from __future__ import annotations

import os

from ..log.base import Log
from ..store import StorePartition
from ..store.folding import fold_batch
from ..wire.codec import Codec, default_codec

POLL_S = 1.0


async def rebuild_partition(
    log: Log, partition: int, store_path: str | os.PathLike, *, stop: int | None = None, codec: Codec | None = None
) -> int:
    """Fold ``partition`` up to ``stop`` (default: its end) into the store; returns records read."""
    codec = codec or default_codec()
    store = StorePartition(store_path)
    try:
        applied = store.applied_offset()
        stop = await log.end_offset(partition) if stop is None else stop
        if applied + 1 >= stop:
            return 0
        first = applied + 1
        reader = log.reader()
        try:
            reader.assign(partition, first)
            while applied + 1 < stop:
                entries = [e for e in await reader.poll(POLL_S) if e.offset < stop]
                if entries:
                    applied, _ = fold_batch(store, codec, entries, applied)
        finally:
            await reader.close()
        return applied + 1 - first
    finally:
        store.close()
