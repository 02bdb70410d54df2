"""The workers' own stores, read by a client beside them, caught up with the log's end.

On the embedded log the CLI runs on the machine that keeps the workers' stores
(``<data-dir>/<namespace>/<partition>``). ``workflow list`` reads their run index
instead of the log:

1. open each partition's store read-only: a consistent view as of now, even while its
   worker writes it in another process;
2. lay a ``StoreOverlay`` on it; a store written before the run index gets its index
   there, from its rows, in memory;
3. fold the records appended after the store's applied offset into the overlay, with the
   workers' own ``fold_entries``: the tail only, usually a few records.

The stores are never written. If any partition has no store (no worker with this data
dir has owned it), the reader is not ``available`` and the client folds the log instead.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import names
from ..fold import run_index
from ..log.base import Log
from ..store import StorePartition
from ..store.folding import fold_entries
from ..store.overlay import StoreOverlay
from ..wire.codec import Codec

POLL_S = 1.0


class WorkerStores:
    def __init__(self, log: Log, codec: Codec, data_dir: str | os.PathLike):
        self.log = log
        self.codec = codec
        self.data_dir = Path(data_dir)
        self._open: list[StorePartition] = []

    def _path(self, partition: int) -> Path:
        return names.store_path(self.data_dir, self.log.namespace, partition)

    def available(self) -> bool:
        return all((self._path(p) / "CURRENT").exists() for p in range(self.log.num_partitions))

    async def states(self) -> list[StoreOverlay] | None:
        """Every partition's store with the log's tail folded over it (steps 1-3), or
        None if a store is missing or ahead of the log (then it is not this log's)."""
        overlays = []
        for partition in range(self.log.num_partitions):
            store = StorePartition(self._path(partition), read_only=True)  # 1.
            self._open.append(store)
            overlay = StoreOverlay(store)
            if not run_index.is_indexed(overlay):  # 2.
                run_index.index_rows(overlay)
            end = await self.log.end_offset(partition)
            applied = store.applied_offset()
            if applied + 1 > end:
                return None
            await self._fold_tail(overlay, partition, applied, end)  # 3.
            overlays.append(overlay)
        return overlays

    async def _fold_tail(self, overlay: StoreOverlay, partition: int, applied: int, end: int) -> None:
        if applied + 1 >= end:
            return
        reader = self.log.reader()
        try:
            reader.assign(partition, applied + 1)
            while applied + 1 < end:
                entries = [e for e in await reader.poll(POLL_S) if e.offset < end]
                if entries:
                    applied, _ = fold_entries(overlay, self.codec, entries, applied)
        finally:
            await reader.close()

    def close(self) -> None:
        for store in self._open:
            store.close()
        self._open = []
