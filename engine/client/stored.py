"""A client's own fold of the journal, on disk: results, verdicts and lookups at any scale.

The live view (``live.py``) folds only the keys a client waits on, in memory. A key it
has not seen, or has forgotten, costs a read of its partition from offset 0: fine for a
CLI or a script, not for a service that resumes runs started days ago by others, or
waits on a million runs. Such a client gives itself a store: ``Client(log,
store_dir=PATH)``. It then folds every record of every partition into its own RocksDB
stores, with the workers' own ``fold_batch``, and keeps the rows they keep. Memory is a
small RocksDB budget plus what is waited on now; the log's length costs disk, and a
restart folds only the tail.

1. On first use, open ``<store_dir>/<namespace>/<partition>`` for every partition and read
   each partition from its applied offset + 1.
2. The pump folds each batch of a partition in one transaction, committed with its offset.
   A ``FINISHED`` effect wakes the waiters of that run. While a command of this client is
   in flight on a routing key, the effects of that key's records are kept by offset, with
   the execution row they left.
3. ``wait_finished``: the stored row if the run has ended, else a waiter. Folding a batch
   and dispatching its effects never yields to the event loop, so no end falls between
   the look and the wait.
4. ``judge``: expect verdicts on the key, append, take the effects at the acknowledged
   offset.
5. ``row`` and ``rows`` read the stores once they have folded everything appended before
   the call (read-your-writes).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from .. import names
from ..errors import LogloomError, StoreAheadOfLogError
from ..fold import EffectKind, MemoryState
from ..fold.keys import execution_key
from ..fold.rows import ENDED
from ..log.base import Entry, Log
from ..store import PartitionTransaction, StoreMemory, StorePartition
from ..store.folding import fold_batch
from ..wire.codec import Codec
from .waiters import await_end, stop_reading

log = logging.getLogger(__name__)

POLL_S = 0.2
CACHE_MB = 16  # the client's stores share a block cache this big ...
WRITE_BUFFER_MB = 8  # ... and their memtables are charged to it, up to this much
_FINISHED = EffectKind.FINISHED


class StoredResults:
    """What a client with a store waits on: the same surface as ``LiveResults``."""

    def __init__(self, log_: Log, codec: Codec, store_dir: str | Path, cache_mb: int = CACHE_MB):
        self.log = log_
        self.codec = codec
        self.store_dir = Path(store_dir)
        self.memory = StoreMemory(cache_mb, min(WRITE_BUFFER_MB, cache_mb))
        self._stores: dict[int, StorePartition] = {}
        self._applied: dict[int, int] = {}
        self._reader = None
        self._pump_task: asyncio.Task | None = None
        self._waiters: dict[str, list[asyncio.Future]] = {}  # execution id -> its result waiters
        self._judging: dict[tuple[int, bytes], int] = {}  # (partition, key) -> commands in flight
        self._verdicts: dict[tuple[int, int], tuple[bytes, list, dict | None]] = {}  # folded before the ack
        self._verdict_waiters: dict[tuple[int, int], asyncio.Future] = {}
        self._caught_up: dict[int, list[tuple[int, asyncio.Future]]] = {}  # partition -> (end, waiter)

    # -- the pump ----------------------------------------------------------------------

    def _start(self) -> None:
        """Open the stores and start folding (once; nothing here yields)."""
        if self._pump_task is not None:
            return
        for partition in range(self.log.num_partitions):
            if partition in self._stores:  # opened by an earlier attempt that failed further on
                continue
            path = names.store_path(self.store_dir, self.log.namespace, partition)
            try:
                store = StorePartition(path, self.memory)
            except Exception as exc:  # RocksDB's lock: another client (or process) has it open
                raise LogloomError(
                    f"cannot open the client's store at {path}: {exc}; each client needs a store_dir of its own"
                ) from None
            self._stores[partition] = store
            self._applied[partition] = store.applied_offset()
        self._reader = self.log.reader()
        for partition, applied in self._applied.items():
            self._reader.assign(partition, applied + 1)
        self._pump_task = asyncio.create_task(self._pump(), name="client-store-pump")
        self._pump_task.add_done_callback(self._pump_ended)

    async def _pump(self) -> None:
        while True:
            entries = await self._reader.poll(POLL_S)
            by_partition: dict[int, list[Entry]] = {}
            for entry in entries:
                by_partition.setdefault(entry.partition, []).append(entry)
            for partition, batch in by_partition.items():
                self._fold(partition, batch)

    def _fold(self, partition: int, batch: list[Entry]) -> None:
        observe = self._observe if self._judging else None  # it keeps only the keys being judged
        applied, effects = fold_batch(self._stores[partition], self.codec, batch, self._applied[partition], observe)
        self._applied[partition] = applied
        for effect in effects:
            if effect.kind is _FINISHED:
                for waiter in self._waiters.pop(effect.execution_id, ()):
                    if not waiter.done():
                        waiter.set_result(effect.data)
        waiting = self._caught_up.get(partition)
        if waiting:
            still = [(end, w) for end, w in waiting if applied + 1 < end and not w.done()]
            for end, waiter in waiting:
                if applied + 1 >= end and not waiter.done():
                    waiter.set_result(None)
            self._caught_up[partition] = still

    def _observe(self, entry: Entry, record: dict, effects: list, tx: PartitionTransaction) -> None:
        """Keep what a record of a key being judged did, and the row it left."""
        if (entry.partition, entry.key) not in self._judging:
            return
        execution_id = record.get("execution_id")
        row = None if execution_id is None else tx.get(execution_key(execution_id))
        where = (entry.partition, entry.offset)
        waiter = self._verdict_waiters.pop(where, None)
        if waiter is None:
            self._verdicts[where] = (entry.key, effects, row)  # the append's ack is not back yet
        elif not waiter.done():
            waiter.set_result((entry.key, effects, row))

    def _pump_ended(self, task: asyncio.Task) -> None:
        """If folding the journal fails, fail every waiter now instead of at its timeout."""
        if task.cancelled() or task.exception() is None:
            return
        log.error("client store: folding the journal failed: %s", task.exception())
        waiting = [
            *(w for ws in self._waiters.values() for w in ws),
            *self._verdict_waiters.values(),
            *(w for ws in self._caught_up.values() for _, w in ws),
        ]
        for waiter in waiting:
            if not waiter.done():
                waiter.set_exception(task.exception())

    async def close(self) -> None:
        await stop_reading(self._pump_task, self._reader)
        self._pump_task = self._reader = None
        for store in self._stores.values():
            store.close()
        self._stores = {}

    # -- what the client asks ------------------------------------------------------------

    async def watch(self, routing_key: str, fresh: bool) -> None:
        """Every key is followed already; this only starts the pump."""
        self._start()

    async def judge(self, routing_key: str, append: Callable[[], Awaitable[int]]) -> tuple[list, MemoryState]:
        """Append a command; the effects of its record, and the state with its execution's
        row as that record left it."""
        self._start()
        partition, key = self.log.partition_for(routing_key), routing_key.encode()
        judging = (partition, key)
        self._judging[judging] = self._judging.get(judging, 0) + 1
        try:
            offset = await append()
            where = (partition, offset)
            verdict = self._verdicts.pop(where, None)
            if verdict is None:
                waiter = self._verdict_waiters[where] = asyncio.get_running_loop().create_future()
                try:
                    verdict = await waiter
                finally:
                    self._verdict_waiters.pop(where, None)
        finally:
            self._judging[judging] -= 1
            if not self._judging[judging]:
                del self._judging[judging]
                for kept in [w for w, (k, _, _) in self._verdicts.items() if w[0] == partition and k == key]:
                    del self._verdicts[kept]  # other commands' records of the key: nobody takes them
        _, effects, row = verdict
        state = MemoryState()
        if row is not None:
            state.put(execution_key(row["id"]), row)
        return effects, state

    async def wait_finished(self, execution_id: str, routing_key: str, fresh: bool, timeout_s: float | None) -> dict:
        """Wait until the execution ends; its ended row. ``TimeoutError`` after ``timeout_s``."""
        self._start()
        row = self._stores[self.log.partition_for(routing_key)].get(execution_key(execution_id))
        if row is not None and row["status"] in ENDED:
            return row
        return await await_end(self._waiters, execution_id, timeout_s)

    async def current(self) -> None:
        """Wait until every partition is folded up to its end as of this call."""
        self._start()
        ends = {p: await self.log.end_offset(p) for p in self._stores}
        for partition, end in ends.items():
            if self._applied[partition] + 1 > end:
                raise StoreAheadOfLogError(
                    f"the client's store of partition {partition} at {self.store_dir} is at offset "
                    f"{self._applied[partition]}, past the log's end ({end}): it was folded from another log; "
                    f"delete it and it is folded again"
                )
        loop = asyncio.get_running_loop()
        waiters = []
        for partition, end in ends.items():
            if self._applied[partition] + 1 < end:
                waiter = loop.create_future()
                self._caught_up.setdefault(partition, []).append((end, waiter))
                waiters.append(waiter)
        await asyncio.gather(*waiters)

    async def row(self, execution_id: str, routing_key: str | None) -> dict | None:
        """The execution's row once the stores are current: from its routing key's
        partition, or (``None``: perhaps a run of a session) from any partition."""
        await self.current()
        if routing_key is not None:
            return self._stores[self.log.partition_for(routing_key)].get(execution_key(execution_id))
        for store in self._stores.values():
            row = store.get(execution_key(execution_id))
            if row is not None:
                return row
        return None

    async def lookup(self, routing_key: str, key: bytes) -> dict | None:
        """Any store key of the routing key's partition, once the stores are current."""
        await self.current()
        return self._stores[self.log.partition_for(routing_key)].get(key)

    async def scan(self, prefix: bytes) -> list[dict]:
        """Every value under ``prefix``, partition by partition, once the stores are current."""
        await self.current()
        return [value for store in list(self._stores.values()) for _, value in store.scan(prefix)]

    async def states(self) -> list[StorePartition]:
        """Every partition's store, once the stores are current (for the run index)."""
        await self.current()
        return list(self._stores.values())

    def sizes(self) -> dict[str, int]:
        """What the client holds in memory: only what is waited on now."""
        return {
            "waiters": sum(len(ws) for ws in self._waiters.values()),
            "judging": sum(self._judging.values()),
            "verdicts": len(self._verdicts) + len(self._verdict_waiters),
            "catching_up": sum(len(ws) for ws in self._caught_up.values()),
        }
