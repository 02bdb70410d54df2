"""The invoker: runs workflow bodies as asyncio tasks, outside the fold.

One task per running execution. A task is started when a processor becomes active (for
every execution left pending or running) and when a new invocation is folded. It runs
the workflow code against the recorded journal (``context.py``), and its outcomes enter
the system only as records appended through the processor.
"""

from __future__ import annotations

import asyncio
import logging

from . import fold
from .context import WorkflowContext
from .errors import EngineSignal, Fenced, LogloomError, NondeterminismError, to_record
from .journal import Journal
from .processor import PartitionProcessor, now_ms
from .registry import Registry
from .serde import from_json, to_json

log = logging.getLogger(__name__)


class ExecutionRun:
    """One execution while its task runs: its journal, step counter and appends."""

    def __init__(self, processor: PartitionProcessor, row: dict, journal: Journal):
        self.processor = processor
        self.row = row
        self.journal = journal
        self.execution_id: str = row["id"]
        self.routing_key: bytes = (row.get("session_id") or row["id"]).encode()
        self._seq = 0

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    async def record_step(self, record_type: str, seq: int, key: str, attempt: int, **fields) -> dict:
        """Append a step outcome; returns the entry the fold kept at this position."""
        entry = await self.processor.append_and_wait(
            record_type, self.execution_id, self.routing_key, (self.execution_id, seq),
            seq=seq, key=key, attempt=attempt, **fields)
        self.journal.remember(seq, entry)
        return entry

    async def finish(self, record_type: str, **fields) -> dict:
        return await self.processor.append_and_wait(
            record_type, self.execution_id, self.routing_key, (self.execution_id, "end"), **fields)


class Invoker:
    def __init__(self, registry: Registry, worker_id: str):
        self.registry = registry
        self.worker_id = worker_id
        self._tasks: dict[int, dict[str, asyncio.Task]] = {}

    def running(self) -> int:
        return sum(len(tasks) for tasks in self._tasks.values())

    def resume(self, processor: PartitionProcessor) -> None:
        """Start a task for every execution the store says is pending or running."""
        store = processor.store
        for key, _ in store.scan(b"a/"):
            row = store.get(fold.execution_key(key[2:].decode()))
            if row is not None:
                self.start(processor, row)

    def start(self, processor: PartitionProcessor, row: dict) -> None:
        tasks = self._tasks.setdefault(processor.partition, {})
        if row["id"] in tasks:
            return
        task = asyncio.create_task(self._run(processor, row), name=f"execution {row['id']}")
        tasks[row["id"]] = task
        task.add_done_callback(lambda t, tasks=tasks, eid=row["id"]: tasks.pop(eid, None))

    def stop_partition(self, partition: int) -> asyncio.Future:
        """Cancel the partition's tasks; the returned future resolves when they are gone."""
        tasks = list(self._tasks.pop(partition, {}).values())
        for task in tasks:
            task.cancel()
        return asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, processor: PartitionProcessor, row: dict) -> None:
        execution_id = row["id"]
        prefix = fold.journal_prefix(execution_id)
        entries = {int(key[len(prefix):]): entry for key, entry in processor.store.scan(prefix)}
        run = ExecutionRun(processor, row, Journal(execution_id, entries))
        try:
            await self._execute(run, row)
        except (Fenced, asyncio.CancelledError):
            log.debug("execution %s stopped: partition %d no longer owned here", execution_id, processor.partition)
        except Exception:
            log.exception("execution %s: engine error", execution_id)

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
            run.processor.append("ExecutionStarted", execution_id, run.routing_key, at=row["started_at"],
                                 worker=self.worker_id)
        ctx = WorkflowContext(run, row)
        try:
            value = await wf.fn(ctx, **kwargs)
            result = to_json(value, f"result of execution {execution_id}")
        except NondeterminismError as exc:
            log.error("%s", exc)
            error = {"code": exc.code, "type": type(exc).__name__, "message": str(exc), "step": exc.found}
        except EngineSignal:
            raise
        except Exception as exc:
            error = to_record(exc)
            log.info("execution %s failed: [%s] %s", execution_id, error["code"], error["message"])
        else:
            await run.finish("ExecutionCompleted", result=result)
            return
        await run.finish("ExecutionFailed", error=error)
