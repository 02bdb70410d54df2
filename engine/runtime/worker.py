"""Worker: a stream processor composed of a log subscription, processors and an invoker.

The log assigns partitions; for each, the worker opens its local store at
``<data-dir>/<namespace>/<partition>``, starts a ``PartitionProcessor`` at the store's
applied offset + 1, and routes delivered records to it. Revoked partitions are closed.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from .. import names
from ..clock import now_ms
from ..log.base import Entry, Log, Subscription
from ..store import StoreMemory, StorePartition
from ..wire import records
from ..wire.codec import Codec, default_codec
from ..workflow.interceptors import Interceptor
from ..workflow.registry import Registry
from ..workflow.registry import registry as default_registry
from . import c_heap
from .idle_runs import EVICT_AFTER_IDLE_S, MAX_IDLE_RUNS, MAX_RUNS_IN_MEMORY
from .invoker import Invoker
from .messenger import Messenger
from .processor import PartitionProcessor
from .router import Router
from .start_queue import MAX_DEFERRED_IN_MEMORY
from .status import worker_status, write_status_file

log = logging.getLogger(__name__)

OWNERSHIP_LOG_AFTER_S = 0.5  # one line once the owned partitions settle, not one per partition
REVOKE_DRAIN_S = 5.0  # a partition given up in a rebalance: how long its steps in flight may take to finish
PROGRESS_EVERY_S = 2.0  # how often the folded offsets are committed for monitoring (the lag)
MALLOC_ARENAS = 2  # glibc malloc arenas for the process (c_heap.limit_arenas); 0: glibc's default


def new_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(
        self,
        log_: Log,
        registry: Registry | None = None,
        *,
        data_dir: str | os.PathLike = ".logloom",
        worker_id: str | None = None,
        codec: Codec | None = None,
        max_idle_runs: int = MAX_IDLE_RUNS,
        evict_after_idle_s: float = EVICT_AFTER_IDLE_S,
        max_runs_in_memory: int = MAX_RUNS_IN_MEMORY,
        max_deferred_in_memory: int = MAX_DEFERRED_IN_MEMORY,
        store_memory: StoreMemory | None = None,
        status_file: str | os.PathLike | None = None,
        malloc_arenas: int = MALLOC_ARENAS,
        interceptors: Sequence[Interceptor] = (),
    ):
        """``max_idle_runs`` and ``evict_after_idle_s`` bound the waiting runs kept in memory
        (``idle_runs.IdleRuns``); ``max_idle_runs=0`` evicts every run as soon as it waits.
        ``max_runs_in_memory`` bounds the runs in memory at once, idle or not: more wait
        their turn to start (only their ids are held, at most ``max_deferred_in_memory`` of
        them in memory, the rest on disk: ``runtime.start_queue``).
        ``store_memory`` is the RocksDB budget that all the worker's stores share
        (``store.memory``; 64 MB of cache, 32 MB of it for memtables, unless given).
        ``status_file``: where to write ``status()`` every few seconds (``runtime.status``).
        ``malloc_arenas`` caps glibc's malloc arenas in this process when the worker starts,
        and the free memory malloc keeps is given back to the OS every few seconds
        (``runtime.c_heap``): RocksDB's and librdkafka's threads otherwise leave freed
        memory spread over up to 8 arenas per core, and RSS grows while the heap in use
        does not. ``0`` leaves glibc's default.
        ``interceptors``: workflow hooks shown every record folded live for an owned
        partition (``workflow.interceptors``; tracing: ``engine.observability``)."""
        self.log = log_
        self.registry = registry or default_registry
        self.data_dir = Path(data_dir)
        self.worker_id = worker_id or new_worker_id()
        self.codec = codec or default_codec()
        self.store_memory = store_memory or StoreMemory()
        self.status_file = None if status_file is None else Path(status_file)
        self.malloc_arenas = malloc_arenas
        self.interceptors = tuple(interceptors)
        self.invoker = Invoker(
            self.registry,
            self.worker_id,
            max_idle_runs=max_idle_runs,
            evict_after_idle_s=evict_after_idle_s,
            max_runs_in_memory=max_runs_in_memory,
            max_deferred_in_memory=max_deferred_in_memory,
            spill_dir=names.start_queue_path(self.data_dir, log_.namespace),
            store_memory=self.store_memory,
        )
        self.processors: dict[int, PartitionProcessor] = {}
        self.router = Router(log_, self.registry, self.codec)
        self.messenger = Messenger(self.router)
        self._subscription: Subscription | None = None
        self._ownership_log: asyncio.TimerHandle | None = None
        self._progress: asyncio.Task | None = None
        self._stopped = asyncio.Event()
        self._stopping = False
        self.fault: Exception | None = None  # what stopped it, if a fault did (``_fail``)
        self.faulted = asyncio.Event()

    def store_path(self, partition: int) -> Path:
        return names.store_path(self.data_dir, self.log.namespace, partition)

    async def start(self) -> Worker:
        for wf in self.registry.workflows.values():
            if wf.preflight is not None:
                wf.preflight()  # e.g. an agent's provider has no API key: fail before running anything
        if self.malloc_arenas:
            c_heap.limit_arenas(self.malloc_arenas)  # before the stores' threads start
        await self._announce()
        await self._register_schedules()
        self._subscription = self.log.subscribe(self, member=self.worker_id)
        self.invoker.shutdown.membership = self._subscription  # runs doubt it after a pause
        self._progress = asyncio.ensure_future(self._report_progress())
        return self

    async def _announce(self) -> None:
        """Tell the namespace what this worker runs (``logloom workflows`` reads it)."""
        workflows = [
            {
                "name": wf.name,
                "triggers": [trigger.label for trigger in wf.triggers],
                "queue": None if wf.queue is None else {"name": wf.queue.name, "limit": wf.queue.concurrency_limit},
            }
            for wf in sorted(self.registry.workflows.values(), key=lambda wf: wf.name)
        ]
        record = records.worker_announced(now_ms(), worker=self.worker_id, workflows=workflows)
        await self.log.append(names.ROUTER_PARTITION, names.WORKERS_KEY.encode(), self.codec.encode(record))

    async def _register_schedules(self) -> None:
        """Create or update the schedule of each workflow declared with one (``schedule=``
        or ``cron=``): the code is its truth. Unchanged, it changes nothing; paused, it
        stays paused."""
        appends = []
        for wf in self.registry.workflows.values():
            if wf.schedule is not None:
                routing_key, record = wf.schedule.set_record(wf.name, "decorator", now_ms())
                partition = self.log.partition_for(routing_key)
                appends.append(self.log.append(partition, routing_key.encode(), self.codec.encode(record)))
        await asyncio.gather(*appends)

    async def _report_progress(self) -> None:
        """Every ``PROGRESS_EVERY_S``, hand the log how far each owned partition is folded:
        committed for the worker group, so ``logloom partitions`` and Kafka's own tools
        show the lag. Recovery never reads it; the stores say where to resume."""
        reported: dict[int, int] = {}
        while True:
            await asyncio.sleep(PROGRESS_EVERY_S)
            if self._subscription is None:
                continue
            now = {p: proc.applied + 1 for p, proc in self.processors.items() if proc.active}
            changed = {p: o for p, o in now.items() if reported.get(p) != o}
            if changed:
                self._subscription.report_progress(changed)
                reported.update(changed)
            if self.malloc_arenas:
                c_heap.trim()
            if self.status_file is not None:
                try:
                    write_status_file(self.status_file, self.status())
                except OSError as exc:
                    log.warning("cannot write the status file %s: %s", self.status_file, exc)

    def status(self) -> dict:
        """Partitions, runs and appends in memory, and the stores' RocksDB memory (``runtime.status``)."""
        return worker_status(self)

    async def drain(self, timeout_s: float) -> int:
        """Before ``stop`` on a graceful shutdown: no run starts another step, and the steps in
        flight finish and are recorded (up to ``timeout_s``). Returns how many were still in
        flight at the deadline; their runs go on from the journal on the next owner."""
        return await self.invoker.drain(timeout_s)

    async def stop(self) -> None:
        self._stopping = True
        if self._ownership_log is not None:
            self._ownership_log.cancel()
        if self._progress is not None:
            self._progress.cancel()
            self._progress = None
        if self._subscription is not None:
            await self._subscription.close()
            self._subscription = None
        for partition in list(self.processors):
            await self.processors.pop(partition).close()
        await self.router.stop()
        self.invoker.close()
        self._stopped.set()

    async def run_forever(self) -> None:
        await self.start()
        await self._stopped.wait()

    async def __aenter__(self) -> Worker:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    # -- PartitionListener ---------------------------------------------------------------

    async def assigned(self, ends: dict[int, int]) -> dict[int, int]:
        starts = {}
        for partition, end in sorted(ends.items()):
            if partition in self.processors:  # assigned again without a revoke in between
                await self.processors.pop(partition).close()
            store = StorePartition(self.store_path(partition), self.store_memory)
            processor = PartitionProcessor(
                partition,
                self.log,
                store,
                self.codec,
                self.invoker,
                self.worker_id,
                on_ownership=self._ownership_changed,
                messenger=self.messenger,
                interceptors=self.interceptors,
            )
            self.processors[partition] = processor
            starts[partition] = processor.applied + 1
            log.info("partition %d: replaying from offset %d to %d", partition, starts[partition], end)
            processor.begin(end)
        return starts

    async def revoked(self, partitions: list[int], lost: bool = False) -> None:
        """Give partitions up. In a rebalance they are still ours until this returns, so
        first their runs start no new step, the step bodies in flight finish, and their
        records are appended and acknowledged (up to ``REVOKE_DRAIN_S``): the next owner
        then re-runs none of them. Meanwhile the group's consumer delivers nothing, so this
        never waits for a record's fold. Lost ones (our session expired) are closed at
        once: their next owner has them already."""
        if not lost and not self._stopping:  # stopping: the host has drained already, or wants it now
            for partition in partitions:
                processor = self.processors.get(partition)
                if processor is not None:
                    processor.draining = True
            deadline = time.monotonic() + REVOKE_DRAIN_S
            left = await self.invoker.drain_partitions(set(partitions), REVOKE_DRAIN_S, bodies_only=True)
            while self.log.appends_in_flight() and time.monotonic() < deadline:  # the bodies' records reach the log
                await asyncio.sleep(0.005)
            if left:
                log.warning("partitions %s given up with %d step(s) still in flight after %g s", partitions, left,
                            REVOKE_DRAIN_S)  # fmt: skip
        for partition in partitions:
            processor = self.processors.pop(partition, None)
            if processor is not None:
                await processor.close()

    def _ownership_changed(self, processor: PartitionProcessor, owned: bool) -> None:
        """The router runs beside the owner of partition 0: one router per namespace. Once the
        owned set settles, one log line says what this worker owns."""
        if self._ownership_log is not None:
            self._ownership_log.cancel()
        self._ownership_log = asyncio.get_running_loop().call_later(OWNERSHIP_LOG_AFTER_S, self._log_ownership)
        if processor.partition != names.ROUTER_PARTITION:
            return
        if owned:
            self.router.start()
        else:
            asyncio.ensure_future(self.router.stop())

    def _log_ownership(self) -> None:
        self._ownership_log = None
        log.info(
            "worker %s owns partitions %s of namespace %s (of %d)",
            self.worker_id, self.active_partitions(), self.log.namespace, self.log.num_partitions,
        )  # fmt: skip

    def records(self, entries: list[Entry]) -> None:
        if self.fault is not None:
            return  # it stops: nothing more is folded
        start = 0
        for i in range(1, len(entries) + 1):  # split into runs of one partition, in order
            if i == len(entries) or entries[i].partition != entries[start].partition:
                processor = self.processors.get(entries[start].partition)
                if processor is not None:
                    try:
                        processor.on_records(entries[start:i])
                    except Exception as exc:  # its store cannot be written (disk full, I/O error)
                        self._fail(processor.partition, exc)
                        return
                start = i

    def _fail(self, partition: int, exc: Exception) -> None:
        """A fault the worker cannot go on from: say so loudly, fold nothing more, and let
        its host stop it (``faulted``), which gives its partitions to the other workers.
        The store keeps its last committed batch: a batch is written whole or not at all."""
        log.critical(
            "partition %d: cannot fold records into its store at %s: %s: %s; this worker stops "
            "and gives up its partitions",
            partition, self.store_path(partition), type(exc).__name__, exc,
        )  # fmt: skip
        self.fault = exc
        self.faulted.set()

    @property
    def joined(self) -> bool:
        """Whether the worker group has given this worker its first assignment."""
        return self._subscription is not None and self._subscription.joined

    def active_partitions(self) -> list[int]:
        return sorted(p for p, proc in self.processors.items() if proc.active)
