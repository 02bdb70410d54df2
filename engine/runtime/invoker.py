"""The invoker: runs workflow bodies as asyncio tasks, outside the fold.

One task per running execution. A task is started when a processor becomes active (for
every execution left pending or running) and when a new invocation is folded. It runs
the workflow code against the recorded journal (``workflow/steps.py``), and its outcomes
enter the system only as records appended through the processor (``run.py``).
"""

from __future__ import annotations

import asyncio
import logging
import time

from pydantic import ValidationError

from ..clock import now_ms
from ..errors import CancelledByRequest, Draining, EngineSignal, Fenced, LogloomError, NondeterminismError, to_record
from ..fold.keys import ACTIVE_PREFIX, execution_key, journal_prefix, parse_active_key, parse_journal_seq
from ..fold.rows import ACTIVE, Status
from ..wire import records
from ..wire.serde import to_json
from ..workflow.context import WorkflowContext
from ..workflow.journal import Journal
from ..workflow.registry import Registry
from ..workflow.starting import initial_state, run_arguments
from .idle_runs import EVICT_AFTER_IDLE_S, MAX_IDLE_RUNS, MAX_RUNS_IN_MEMORY, IdleRuns
from .processor import PartitionProcessor
from .run import ExecutionRun, Shutdown, log_failure
from .run_state import RunState
from .start_queue import MAX_DEFERRED_IN_MEMORY, StartQueue

log = logging.getLogger(__name__)

DRAIN_POLL_S = 0.05

# Read at every run's end, as module names (docs/architecture.md: enum members on hot paths).
_BEING_EVICTED = (RunState.EVICTED, RunState.EVICTED_WOKEN)
_EVICTED_WOKEN, _STOPPING, _PENDING = RunState.EVICTED_WOKEN, RunState.STOPPING, Status.PENDING
_QUEUED = Status.QUEUED


class Invoker:
    def __init__(
        self,
        registry: Registry,
        worker_id: str,
        *,
        max_idle_runs: int = MAX_IDLE_RUNS,
        evict_after_idle_s: float = EVICT_AFTER_IDLE_S,
        max_runs_in_memory: int = MAX_RUNS_IN_MEMORY,
        max_deferred_in_memory: int = MAX_DEFERRED_IN_MEMORY,
        spill_dir=None,
        store_memory=None,
    ):
        self.registry = registry
        self.worker_id = worker_id
        self._runs: dict[int, dict[str, ExecutionRun]] = {}
        self.idle_runs = IdleRuns(max_idle_runs, evict_after_idle_s)
        self.shutdown = Shutdown()
        self.max_runs_in_memory = max_runs_in_memory
        # Runs to start once there is room, oldest first: an id is all it holds (the row is
        # read from the store when the run starts), and past max_deferred_in_memory ids wait on disk.
        self.start_queue = StartQueue(max_deferred_in_memory, spill_dir, store_memory)
        self.idle_runs.room_wanted = self.start_queue.__len__

    async def drain(self, timeout_s: float) -> int:
        """For a graceful shutdown: 1. start no new step, 2. wait up to ``timeout_s`` until no
        step body or append is in flight, so every step that ran has its outcome on the log.
        Returns how many runs still had one in flight at the deadline."""
        self.shutdown.draining = True
        return await self.drain_partitions(None, timeout_s)

    async def drain_partitions(self, partitions: set[int] | None, timeout_s: float, bodies_only: bool = False) -> int:
        """Wait up to ``timeout_s`` until no run of ``partitions`` (None: all) has a step body or
        append in flight; the caller has stopped them from starting new steps. Returns how
        many still had one at the deadline. ``bodies_only``: only the bodies (a partition
        being revoked: its records are not folded meanwhile, so waiting for their fold would
        wait for nothing; the caller waits for the appends' acks instead)."""
        deadline = time.monotonic() + timeout_s
        while True:
            busy = [
                run
                for partition, runs in self._runs.items()
                if partitions is None or partition in partitions
                for run in runs.values()
                if (run.active - run.recording if bodies_only else run.active) and not run.task.done()
            ]
            if not busy or time.monotonic() >= deadline:
                return len(busy)
            await asyncio.sleep(DRAIN_POLL_S)

    def running(self) -> int:
        """Executions with a task in memory (waiting ones that were evicted do not count)."""
        return sum(len(runs) for runs in self._runs.values())

    def resume(self, processor: PartitionProcessor) -> None:
        """Start a task for every execution the store says is active; past the room in
        memory, only its id waits its turn (the row is read when it starts)."""
        store = processor.store
        queued = False
        for key, _ in store.scan(ACTIVE_PREFIX):
            execution_id = parse_active_key(key)
            if self.running() >= self.max_runs_in_memory:
                self.start_queue.push(processor, execution_id)
                queued = True
                continue
            row = store.get(execution_key(execution_id))
            if row is not None:
                self.start(processor, row)
        if queued:  # runs wait for room: the longest idle run makes it (as start() does)
            self.idle_runs.shed()

    def deferred(self) -> int:
        """Runs waiting for room in memory to start (``max_runs_in_memory``)."""
        return len(self.start_queue)

    def close(self) -> None:
        """The worker stopped: forget the runs that waited to start (the stores keep them)."""
        self.start_queue.close()

    def start(self, processor: PartitionProcessor, row: dict) -> None:
        """Start a task for the run; past ``max_runs_in_memory`` it waits its turn, and the
        longest idle run in memory is offered for eviction to make room."""
        runs = self._runs.setdefault(processor.partition, {})
        if row["id"] in runs:
            return
        execution_id = row["id"]
        if row.get("cancel"):  # asked to stop before it ran again: no replay needed
            ExecutionRun(processor, row, Journal(execution_id)).record_cancelled()
            return
        if row["status"] == _QUEUED:  # waits for a slot of its queue: the fold starts it then
            return
        if self.running() >= self.max_runs_in_memory:
            self.start_queue.push(processor, execution_id)
            self.idle_runs.shed()
            return
        entries = {parse_journal_seq(key): entry for key, entry in processor.store.scan(journal_prefix(execution_id))}
        run = ExecutionRun(processor, row, Journal(execution_id, entries), self.registry, self.idle_runs, self.shutdown)
        run.task = asyncio.create_task(self._run(run, row), name=f"execution {execution_id}")
        runs[execution_id] = run
        run.task.add_done_callback(lambda _, run=run: self._finished(run))

    def cancel(self, processor: PartitionProcessor, row: dict) -> None:
        """Stop the execution at its next step or wait; at once if it only waits, or if it is
        terminated."""
        run = self._runs.get(processor.partition, {}).get(row["id"])
        if run is None:
            self.start(processor, row)  # starts, sees the request, records the cancellation
            return
        run.cancel_reason = row["cancel"]["reason"]
        run.terminate = bool(row["cancel"].get("terminate"))
        if run.state in _BEING_EVICTED:
            run.woken()
        elif run.active == 0 or run.terminate:  # every branch waits, or it must stop now
            run.stop()

    def wake(self, processor: PartitionProcessor, row: dict) -> None:
        """A wait of this execution ended: continue it in memory, or start it again."""
        run = self._runs.get(processor.partition, {}).get(row["id"])
        if run is None:
            self.start(processor, row)
        else:  # evicted: it starts again once gone; else its parked waiter is resolved by the same effect
            run.woken()

    def _finished(self, run: ExecutionRun) -> None:
        processor = run.processor
        runs = self._runs.get(processor.partition, {})
        if runs.get(run.execution_id) is run:
            del runs[run.execution_id]
        self.idle_runs.discard(run)
        if run.state is _EVICTED_WOKEN and processor.active:
            row = processor.store.get(execution_key(run.execution_id))
            if row is not None and row["status"] in ACTIVE:
                self.start(processor, row)
        self._start_deferred()

    def _start_deferred(self) -> None:
        """Start the runs that waited for room, oldest first, while there is room."""
        while self.start_queue and self.running() < self.max_runs_in_memory:
            popped = self.start_queue.pop()
            if popped is None:
                return
            processor, execution_id = popped
            if not processor.active or execution_id in self._runs.get(processor.partition, {}):
                continue  # the partition went elsewhere (its new owner starts it), or it runs
            row = processor.store.get(execution_key(execution_id))
            if row is not None and row["status"] in ACTIVE:
                self.start(processor, row)

    def stop_partition(self, partition: int) -> asyncio.Future:
        """Cancel the partition's tasks; the returned future resolves when they are gone."""
        runs = list(self._runs.pop(partition, {}).values())
        self.start_queue.drop_partition(partition)
        for run in runs:
            self.idle_runs.discard(run)
        tasks = [run.task for run in runs]
        for task in tasks:
            task.cancel()
        return asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, run: ExecutionRun, row: dict) -> None:
        try:
            await self._execute(run, row)
        except CancelledByRequest:
            log.info("execution %s cancelled: %s", run.execution_id, run.cancel_reason)
            run.record_cancelled()
        except Draining:
            log.debug("execution %s stopped at a step boundary: the worker is shutting down", run.execution_id)
        except (Fenced, asyncio.CancelledError):
            if run.state is _STOPPING and run.processor.active:
                run.record_cancelled()
            elif run.state not in _BEING_EVICTED:
                log.debug(
                    "execution %s stopped: partition %d no longer owned here", run.execution_id, run.processor.partition
                )
        except Exception:
            log.exception("execution %s: engine error", run.execution_id)

    async def _execute(self, run: ExecutionRun, row: dict) -> None:
        execution_id = run.execution_id
        try:
            wf = self.registry.get(row["workflow"])
            kwargs = run_arguments(wf, row)
        except LogloomError as exc:
            log.error("execution %s cannot start: %s", execution_id, exc)
            await run.finish(records.execution_failed, error=to_record(exc))
            return
        except Exception as exc:  # the workflow's parameters cannot take any input: say so, never hang
            log.exception("execution %s cannot start: its input cannot be bound", execution_id)
            await run.finish(records.execution_failed, error={**to_record(exc), "code": "INVALID_INPUT"})
            return
        if row["status"] == _PENDING:
            row = dict(row, started_at=now_ms())
            started = run.append(records.execution_started, at_ms=row["started_at"], worker=self.worker_id)
            started.add_done_callback(log_failure)  # not awaited: the first step's record follows it
            if log.isEnabledFor(logging.INFO):  # a line per run: only build it when shown
                log.info("execution %s (%s) started", execution_id, wf.name)
        ctx = run.ctx = WorkflowContext(run, row)
        try:
            ctx.state = initial_state(wf, row)
        except ValidationError as exc:
            await run.finish(
                records.execution_failed,
                error={
                    "code": "INVALID_INPUT",
                    "type": "ValidationError",
                    "message": f"invalid initial state: {exc}",
                    "step": None,
                },
            )
            return
        try:
            value = await wf.fn(ctx, **kwargs)
            result = to_json(value, f"result of execution {execution_id}")
            final_state = run.checkpoint()
        except CancelledByRequest:
            raise
        except NondeterminismError as exc:
            log.error("%s", exc)
            error = {"code": exc.code, "type": type(exc).__name__, "message": str(exc), "step": exc.found}
        except EngineSignal:
            raise
        except Exception as exc:
            error = to_record(exc)
            log.info(
                "execution %s (%s) failed after %d ms: [%s] %s",
                execution_id, wf.name, now_ms() - row["started_at"], error["code"], error["message"],
            )  # fmt: skip
        else:
            await run.finish(records.execution_completed, result=result, state=final_state)
            if log.isEnabledFor(logging.INFO):
                log.info("execution %s (%s) completed in %d ms", execution_id, wf.name, now_ms() - row["started_at"])
            return
        await run.finish(records.execution_failed, error=error, state=run.checkpoint(or_none=True))
