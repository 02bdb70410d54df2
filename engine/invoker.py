"""The invoker: runs workflow bodies as asyncio tasks, outside the fold.

One task per running execution. A task is started when a processor becomes active (for
every execution left pending or running) and when a new invocation is folded. It runs
the workflow code against the recorded journal (``context.py``), and its outcomes enter
the system only as records appended through the processor.
"""

from __future__ import annotations

import asyncio
import logging
import time

from . import fold
from .context import WorkflowContext
from pydantic import ValidationError

from .errors import (CancelledByRequest, EngineSignal, Fenced, LogloomError, NondeterminismError, StateTooLargeError,
                     to_record)
from .journal import Journal
from .processor import PartitionProcessor, now_ms
from .registry import Registry
from .serde import from_json, to_json
from .state import dump_state

log = logging.getLogger(__name__)


# Waits due sooner than this stay in memory; longer ones are evicted (no task, no coroutine).
KEEP_IN_MEMORY_MS = 1000
# A run whose every branch waits stays in memory (a wake continues it, no replay) until it
# has been idle this long, or until more than MAX_IDLE_RUNS runs idle in this worker: then
# the longest idle goes first. Evicted, a run costs no memory; a wake replays it.
EVICT_AFTER_IDLE_S = 60.0
MAX_IDLE_RUNS = 1000


class IdleRuns:
    """The runs of a worker whose every branch waits, longest idle first (like Temporal's
    sticky cache of workflows, bounded by count and by idle time)."""

    def __init__(self, capacity: int = MAX_IDLE_RUNS, evict_after_s: float = EVICT_AFTER_IDLE_S):
        self.capacity = capacity
        self.evict_after_s = evict_after_s
        self._runs: dict[ExecutionRun, None] = {}  # insertion order: longest idle first

    def __len__(self) -> int:
        return len(self._runs)

    def add(self, run: "ExecutionRun") -> None:
        self._runs.pop(run, None)
        self._runs[run] = None
        asyncio.get_running_loop().call_later(self.evict_after_s, run.maybe_evict, run.idle_token)
        while len(self._runs) > self.capacity:
            oldest = next(iter(self._runs))
            del self._runs[oldest]
            oldest.maybe_evict(oldest.idle_token)

    def discard(self, run: "ExecutionRun") -> None:
        self._runs.pop(run, None)


class ExecutionRun:
    """One execution while its task runs: its journal, step counter, appends and waits.

    ``active`` counts step bodies running and appends waiting for their fold; ``parked``
    holds the open waits (position -> due time). When every branch of the workflow is
    parked on a wait that is not due soon, the run is evicted: its task is cancelled and
    the execution lives on only as rows in the store, until a record wakes it.
    """

    def __init__(self, processor: PartitionProcessor, row: dict, journal: Journal, idle_runs: IdleRuns | None = None):
        self.processor = processor
        self.idle_runs = idle_runs if idle_runs is not None else IdleRuns()
        self.row = row
        self.journal = journal
        self.execution_id: str = row["id"]
        self.routing_key: bytes = (row.get("session_id") or row["id"]).encode()
        self._seq = 0
        self.active = 0
        self.parked: dict[int, int | None] = {}
        self.task: asyncio.Task | None = None
        self.evicted = False
        self.woken_while_evicting = False
        self.cancel_reason: str | None = (row.get("cancel") or {}).get("reason")
        self.cancelling = False  # the task is being cancelled to stop the execution
        self.idle_token = 0  # bumped whenever the run does something; an eviction check must see it unchanged
        self.ctx = None  # its WorkflowContext, once the body runs
        self.recorded_state: str | None = row.get("state")  # the last state on the log (as of the row)

    def checkpoint(self, or_none: bool = False) -> str | None:
        """The state's JSON to record with a step, or None if it is as last recorded.

        ``StateTooLargeError`` past 1 MB (None instead with ``or_none``).
        """
        try:
            text = dump_state(self.ctx.state if self.ctx else None, self.execution_id)
        except StateTooLargeError:
            if or_none:
                return None
            raise
        if text == self.recorded_state:
            return None
        self.recorded_state = text
        return text

    def check_cancelled(self) -> None:
        """At every step and wait: stop here if the execution was asked to stop."""
        if self.cancel_reason is not None:
            raise CancelledByRequest(self.cancel_reason)

    def record_cancelled(self) -> None:
        ack = self.processor.append("ExecutionCancelled", self.execution_id, self.routing_key,
                                    reason=self.cancel_reason or "cancelled")
        ack.add_done_callback(_log_failure)

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    async def record_step(self, record_type: str, seq: int, key: str, **fields) -> dict:
        """Append a step or wait record; returns the entry the fold kept at this position."""
        self.busy()
        try:
            entry = await self.processor.append_and_wait(
                record_type, self.execution_id, self.routing_key, (self.execution_id, seq),
                seq=seq, key=key, **fields)
        finally:
            self.idle()
        self.journal.remember(seq, entry)
        return entry

    def busy(self) -> None:
        self.active += 1
        self._not_idle()

    def idle(self) -> None:
        self.active -= 1
        if self.active == 0 and self.parked:
            self._now_idle()

    def _now_idle(self) -> None:
        self.idle_token += 1
        self.idle_runs.add(self)

    def _not_idle(self) -> None:
        self.idle_token += 1  # an eviction check scheduled before now no longer applies
        self.idle_runs.discard(self)

    async def park(self, seq: int, due_at: int | None) -> dict:
        """Wait, without holding a worker busy, until the fold ends the wait at ``seq``."""
        key = (self.execution_id, seq)
        waiter = self.processor.waiter(key)
        entry = self.processor.store.get(fold.journal_key(self.execution_id, seq))
        if entry is not None and entry["status"] != "waiting":  # ended before we got here
            self.processor.forget_waiter(key, waiter)
        else:
            self.parked[seq] = due_at
            if self.active == 0:
                self._now_idle()
            try:
                entry = await waiter
            finally:
                self.parked.pop(seq, None)
                self._not_idle()
                self.processor.forget_waiter(key, waiter)  # evicted: nothing stays behind
        self.journal.remember(seq, entry)
        return entry

    def maybe_evict(self, idle_token: int) -> None:
        if idle_token != self.idle_token or self.evicted or self.active or not self.parked or self.task is None:
            return
        soon = time.time() * 1000 + KEEP_IN_MEMORY_MS
        if any(due is not None and due < soon for due in self.parked.values()):
            return
        self.evicted = True
        self.idle_runs.discard(self)
        log.debug("execution %s evicted while it waits for %s", self.execution_id, sorted(self.parked))
        self.task.cancel()

    async def finish(self, record_type: str, **fields) -> dict:
        return await self.processor.append_and_wait(
            record_type, self.execution_id, self.routing_key, (self.execution_id, "end"), **fields)


class Invoker:
    def __init__(self, registry: Registry, worker_id: str, *, max_idle_runs: int = MAX_IDLE_RUNS,
                 evict_after_idle_s: float = EVICT_AFTER_IDLE_S):
        self.registry = registry
        self.worker_id = worker_id
        self._runs: dict[int, dict[str, ExecutionRun]] = {}
        self.idle_runs = IdleRuns(max_idle_runs, evict_after_idle_s)

    def running(self) -> int:
        """Executions with a task in memory (waiting ones that were evicted do not count)."""
        return sum(len(runs) for runs in self._runs.values())

    def resume(self, processor: PartitionProcessor) -> None:
        """Start a task for every execution the store says is pending or running."""
        store = processor.store
        for key, _ in store.scan(b"a/"):
            row = store.get(fold.execution_key(key[2:].decode()))
            if row is not None:
                self.start(processor, row)

    def start(self, processor: PartitionProcessor, row: dict) -> None:
        runs = self._runs.setdefault(processor.partition, {})
        if row["id"] in runs:
            return
        execution_id = row["id"]
        if row.get("cancel"):  # asked to stop before it ran again: no replay needed
            ExecutionRun(processor, row, Journal(execution_id)).record_cancelled()
            return
        prefix = fold.journal_prefix(execution_id)
        entries = {int(key[len(prefix):]): entry for key, entry in processor.store.scan(prefix)}
        run = ExecutionRun(processor, row, Journal(execution_id, entries), self.idle_runs)
        run.task = asyncio.create_task(self._run(run, row), name=f"execution {execution_id}")
        runs[execution_id] = run
        run.task.add_done_callback(lambda _, run=run: self._finished(run))

    def cancel(self, processor: PartitionProcessor, row: dict) -> None:
        """Stop the execution at its next step or wait; at once if it only waits."""
        run = self._runs.get(processor.partition, {}).get(row["id"])
        if run is None:
            self.start(processor, row)  # starts, sees the request, records the cancellation
            return
        run.cancel_reason = row["cancel"]["reason"]
        if run.evicted:
            run.woken_while_evicting = True
        elif run.active == 0:  # every branch waits: nothing to finish first
            run.cancelling = True
            run.task.cancel()

    def wake(self, processor: PartitionProcessor, row: dict) -> None:
        """A wait of this execution ended: continue it in memory, or start it again."""
        run = self._runs.get(processor.partition, {}).get(row["id"])
        if run is None:
            self.start(processor, row)
        elif run.evicted:
            run.woken_while_evicting = True
        # else: its parked waiter is resolved by the same fold event

    def _finished(self, run: ExecutionRun) -> None:
        processor = run.processor
        runs = self._runs.get(processor.partition, {})
        if runs.get(run.execution_id) is run:
            del runs[run.execution_id]
        self.idle_runs.discard(run)
        if run.evicted and run.woken_while_evicting and processor.phase == "active":
            row = processor.store.get(fold.execution_key(run.execution_id))
            if row is not None and row["status"] in fold.ACTIVE:
                self.start(processor, row)

    def stop_partition(self, partition: int) -> asyncio.Future:
        """Cancel the partition's tasks; the returned future resolves when they are gone."""
        runs = list(self._runs.pop(partition, {}).values())
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
            run.record_cancelled()
        except (Fenced, asyncio.CancelledError):
            if run.cancelling and run.processor.phase == "active":
                run.record_cancelled()
            elif not run.evicted:
                log.debug("execution %s stopped: partition %d no longer owned here",
                          run.execution_id, run.processor.partition)
        except Exception:
            log.exception("execution %s: engine error", run.execution_id)

    async def _execute(self, run: ExecutionRun, row: dict) -> None:
        execution_id = run.execution_id
        try:
            wf = self.registry.get(row["workflow"])
            kwargs = wf.binder.bind(from_json(row["input"]))
        except LogloomError as exc:
            log.error("execution %s cannot start: %s", execution_id, exc)
            await run.finish("ExecutionFailed", error=to_record(exc))
            return
        if row["status"] == fold.PENDING:
            row = dict(row, started_at=now_ms())
            started = run.processor.append("ExecutionStarted", execution_id, run.routing_key, at=row["started_at"],
                                           worker=self.worker_id)
            started.add_done_callback(_log_failure)  # not awaited: the first step's record follows it
        ctx = run.ctx = WorkflowContext(run, row)
        try:
            ctx.state = wf.state_schema.model_validate(from_json(row.get("initial_state")) or {})
        except ValidationError as exc:
            await run.finish("ExecutionFailed", error={"code": "INVALID_INPUT", "type": "ValidationError",
                                                       "message": f"invalid initial state: {exc}", "step": None})
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
            log.info("execution %s failed: [%s] %s", execution_id, error["code"], error["message"])
        else:
            await run.finish("ExecutionCompleted", result=result, state=final_state)
            return
        await run.finish("ExecutionFailed", error=error, state=run.checkpoint(or_none=True))


def _log_failure(ack: asyncio.Future) -> None:
    if not ack.cancelled() and ack.exception() is not None:
        log.warning("append failed: %s", ack.exception())
