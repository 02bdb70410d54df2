"""Client: appends commands to the journal and reads results back from it.

A client never talks to a worker. It appends commands (``commands.py``: epoch 0, never
fenced, idempotent) and reads everything else from the journal itself: the results it
waits for from its live view (``live.py``), and statuses, histories and listings by
folding a partition from offset 0 (``views.py``, ``scans.py``), with the workers' own
``fold.apply``.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from .. import names
from ..clock import now_ms, to_ms
from ..errors import ExecutionNotFoundError, InputValidationError, LogloomError, StepNotFoundError
from ..fold.rows import RECORDED
from ..log.base import Log
from ..wire import records
from ..wire.codec import Codec, default_codec
from ..wire.serde import from_json, to_json
from ..wire.webhooks import encode_envelope
from ..workflow.queues import Queue
from ..workflow.registry import Workflow
from ..workflow.webhooks import check_endpoint
from .cluster import Cluster
from .commands import Commands, invocation
from .live import MAX_FINISHED_RESULTS, MAX_IDLE_KEYS, LiveResults
from .models import (
    DeadLetter,
    Execution,
    ExecutionHandle,
    HistoryRecord,
    PartitionInfo,
    QueueKey,
    Schedule,
    WorkerInfo,
)
from .outcomes import CommandResult
from .run_query import RunQuery
from .run_stream import StreamEvent, stream_events
from .scans import JournalScans
from .stored import StoredResults
from .views import Views
from .worker_stores import WorkerStores

DECLARED_QUEUES_TTL_S = 60.0  # how long a client trusts what it read of the workers' declared queues


class Client:
    def __init__(
        self,
        log_: Log,
        codec: Codec | None = None,
        *,
        max_idle_keys: int = MAX_IDLE_KEYS,
        max_finished_results: int = MAX_FINISHED_RESULTS,
        store_dir: str | os.PathLike | None = None,
        worker_data_dir: str | os.PathLike | None = None,
    ):
        """A client holds memory only for what it waits on, plus two bounded sets, whose
        oldest entries are dropped (and read again from the log if asked for):
        ``max_idle_keys`` runs still going that nobody waits on, followed for a later
        ``result()``; ``max_finished_results`` ended runs whose handles have not asked yet.

        With ``store_dir``, the client folds the whole journal into RocksDB stores of its
        own there (``stored.py``), for a long-lived client: results, command verdicts,
        ``get_execution`` and ``list_executions`` are then lookups, whatever the log's
        length and however many runs it waits on; the two sets above are not used.

        With ``worker_data_dir``, a client on the machine of the workers' stores (the
        embedded log) lists executions from their run index, read-only
        (``worker_stores.py``), instead of from the log."""
        self.log = log_
        self.codec = codec or default_codec()
        scans = JournalScans(log_, self.codec)
        if store_dir is None:  # what handles wait on
            self.live = LiveResults(log_, self.codec, scans, max_idle_keys, max_finished_results)
        else:
            self.live = StoredResults(log_, self.codec, store_dir)
        self._commands = Commands(log_, self.codec, self.live)
        worker_stores = None if worker_data_dir is None else WorkerStores(log_, self.codec, worker_data_dir)
        self._views = Views(scans, self.live, worker_stores)
        self._cluster = Cluster(scans)
        self._declared: dict[str, dict | None] = {}  # workflow name -> its declared queue
        self._declared_at = 0.0

    async def __aenter__(self) -> Client:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        await self.live.close()

    # -- commands ------------------------------------------------------------------------

    async def invoke(
        self,
        workflow: Workflow | str,
        payload: Any = None,
        *,
        execution_id: str | None = None,
        user_id: str | None = None,
        session_id: str | None = None,
        run_timeout_seconds: float | None = None,
        initial_state: Any = None,
        queue: Queue | None = None,
        concurrency_key: str | None = None,
        priority: int = 0,
        traceparent: str | None = None,
    ) -> ExecutionHandle:
        """Append an invocation. A payload the workflow rejects raises and starts nothing.

        Invoking twice with the same ``execution_id``, workflow and payload starts one
        execution; the same id with another workflow or payload raises
        ``ExecutionIdConflictError``: the id deduplicates queued runs too. With
        ``run_timeout_seconds``, an execution still running then is cancelled. On a
        queue (``queue=``, else the workflow's own), the run starts once its (queue,
        ``concurrency_key``) has a free slot, higher ``priority`` first. ``traceparent``
        (a W3C trace context, e.g. an HTTP request's header) is recorded with the
        invocation: the run's trace continues it (docs/observability.md).
        """
        if isinstance(workflow, str) and queue is None:  # by name: the queue its workers declare
            queue = await self._declared_queue(workflow)
        record = invocation(
            workflow, payload, execution_id, user_id, session_id, run_timeout_seconds, initial_state,
            queue, concurrency_key, priority, traceparent=traceparent,
        )  # fmt: skip
        if execution_id is None:
            routing_key = await self._commands.submit(record, fresh=True)
            return ExecutionHandle(self, record["execution_id"], routing_key, True)
        routing_key, _ = await self._commands.submit_once(record)  # ExecutionIdConflictError
        return ExecutionHandle(self, execution_id, routing_key, False)

    async def rerun(self, execution_id: str, from_step: str, *, new_execution_id: str | None = None) -> ExecutionHandle:
        """Start the old run's workflow again, with its input, as a new execution whose
        journal is the old one's recorded outcomes before the step ``from_step``: those
        steps return their recorded results and do not run again; the code runs from
        ``from_step`` on. The new run's ``rerun_of`` names the old one and the step.

        ``StepNotFoundError`` if the old run recorded no step ``from_step``. The new id is
        ``<old id>~rerun-<hex>`` unless given (then the call is idempotent)."""
        row, entries = await self._views.journal(execution_id)
        at = {entry["key"]: seq for seq, entry in sorted(entries.items())}
        if from_step not in at:
            raise StepNotFoundError(
                f"execution {execution_id} recorded no step {from_step!r}; its steps: {', '.join(at) or 'none'}"
            )
        from_seq = at[from_step]
        kept = {str(seq): entry for seq, entry in entries.items() if seq < from_seq and entry["status"] in RECORDED}
        new_id = new_execution_id or f"{execution_id}~rerun-{uuid.uuid4().hex[:6]}"
        rerun = {"execution_id": execution_id, "from_step": from_step, "from_seq": from_seq}
        record = invocation(
            row["workflow"], from_json(row["input"]), new_id, row["user_id"], row["session_id"], None,
            from_json(row.get("initial_state")), rerun={**rerun, "journal": to_json(kept, "the kept journal")},
        )  # fmt: skip
        routing_key, _ = await self._commands.submit_once(record)
        return ExecutionHandle(self, new_id, routing_key, new_execution_id is None)

    async def _declared_queue(self, workflow: str) -> Queue | None:
        """The queue the workers declare for ``workflow`` (``@workflow(queue=...)``), from
        their announcements, read again after ``DECLARED_QUEUES_TTL_S``."""
        now = time.monotonic()
        if workflow not in self._declared or now - self._declared_at > DECLARED_QUEUES_TTL_S:
            self._declared = {wf.name: wf.queue for worker in await self.workers() for wf in worker.workflows}
            self._declared_at = now
        declared = self._declared.get(workflow)
        return None if declared is None else Queue(declared["name"], declared["limit"])

    async def batch_invoke(
        self, workflows: list, *, user_id: str | None = None, session_id: str | None = None
    ) -> list[ExecutionHandle]:
        """Start many executions (``BatchWorkflowInput``: workflow, payload, initial state); handles in order.

        Every payload and initial state is checked first: if one is invalid, nothing is started.
        """
        records = [
            invocation(w.id, w.payload, None, user_id, session_id, w.run_timeout_seconds, w.initial_state)
            for w in workflows
        ]
        routing_keys = await self._commands.submit_all(records)
        return [ExecutionHandle(self, r["execution_id"], key, True) for r, key in zip(records, routing_keys)]

    async def batch_agent_invoke(
        self, invocations: list, *, user_id: str | None = None, session_id: str | None = None
    ) -> list[ExecutionHandle]:
        """Start many agent runs (``agent.with_input(...)`` each); handles in order, whose
        ``result()`` is each run's ``AgentResult``. Nothing starts if one input is invalid."""
        records = [invocation(i.workflow, i.payload, None, user_id, session_id, None, None) for i in invocations]
        routing_keys = await self._commands.submit_all(records)
        handles = [ExecutionHandle(self, r["execution_id"], key, True) for r, key in zip(records, routing_keys)]
        for handle, i in zip(handles, invocations):
            handle.convert = i.result_from
        return handles

    async def handle(self, execution_id: str, *, session_id: str | None = None) -> ExecutionHandle:
        """A handle on an existing execution (``ExecutionNotFoundError`` if there is none)."""
        execution = await self.get_execution(execution_id, session_id=session_id)
        return ExecutionHandle(self, execution_id, execution.routing_key, False)

    def stream(
        self,
        execution_id: str,
        *,
        from_offset: int | None = None,
        since_ms: int | None = None,
        ended: asyncio.Future | None = None,
    ) -> AsyncIterator[StreamEvent]:
        """The events a run and its call tree stream (``ctx.stream``), in order, under the
        root's ``execution_id``: from ``from_offset`` (to re-attach: the last event's offset
        + 1), else from when the run began, ``since_ms`` (read from ``CLOCK_SKEW_MS``
        before it: the producers' clocks differ), else from the topic's start. Ends once ``ended`` (a future
        that resolves when the run ends) is done and the stream is read to its end."""
        return stream_events(self.log, execution_id, from_offset=from_offset, since_ms=since_ms, ended=ended)

    async def publish_event(
        self, topic: str, data: Any, key: str | None = None, schema: dict | None = None
    ) -> tuple[int, int]:
        """Publish an event on a domain topic (``name`` or ``name/KEY``); returns (partition, offset).

        JSON by default; Avro (single-object encoding) with ``schema``. Any Kafka producer
        can publish the same way: the engine reads the topic directly.
        """
        return await self._commands.publish_event(topic, data, key, schema)

    async def publish_webhook(
        self,
        *,
        source: str,
        name: str,
        delivery_id: str,
        event: str | None,
        headers: list[tuple[str, str]],
        body: bytes,
        received_at_ms: int | None = None,
    ) -> tuple[int, int]:
        """Write a verified webhook delivery to its source's topic, keyed by ``delivery_id``,
        as an envelope that keeps the body byte for byte and the headers (``wire/webhooks.py``);
        returns (partition, offset). The router starts the runs it triggers. Writing a delivery
        again starts only runs that do not exist yet (docs/webhooks.md, "Replaying deliveries")."""
        check_endpoint(source, name)
        if not delivery_id or len(delivery_id) > 200 or not delivery_id.isprintable():
            raise LogloomError(f"a webhook delivery id is 1-200 printable characters, got {delivery_id!r}")
        value = encode_envelope(
            source=source,
            name=name,
            delivery_id=delivery_id,
            event=event,
            headers=headers,
            body=body,
            received_at_ms=now_ms() if received_at_ms is None else received_at_ms,
        )
        return await self.log.publish(names.webhook_topic(self.log.namespace, source), delivery_id.encode(), value)

    async def cancel(
        self, execution_id: str, reason: str = "cancelled by a client", *, session_id: str | None = None
    ) -> CommandResult:
        """Cancel the execution at its next step or wait; its status becomes ``cancelled``.

        Returns what the fold made of it: applied, ``already`` requested, or ``ended``
        before; ``ExecutionNotFoundError`` if there is no such execution."""
        return await self._for_execution(execution_id, session_id, self._commands.cancel, reason, terminate=False)

    async def terminate(
        self, execution_id: str, reason: str = "terminated by a client", *, session_id: str | None = None
    ) -> CommandResult:
        """Stop the execution now, without waiting for its step in flight (whose outcome is
        not recorded); it ends ``cancelled`` with the error code ``TERMINATED``."""
        return await self._for_execution(execution_id, session_id, self._commands.cancel, reason, terminate=True)

    async def resume(
        self, execution_id: str, name: str, data: Any = None, *, session_id: str | None = None
    ) -> CommandResult:
        """Resume the execution's suspension ``name`` with ``data``.

        Returns what the fold made of it: ``applied`` (the wait ended with ``data``),
        ``buffered`` (the run has not reached a wait of that name yet: the resume is kept
        and ends it when it opens), ``already`` (that wait already ended), or ``ended``
        (the execution has); ``ExecutionNotFoundError`` if there is no such execution.
        """
        return await self._for_execution(execution_id, session_id, self._commands.resume, name, data)

    async def _for_execution(self, execution_id: str, session_id: str | None, command, *args, **kwargs):
        """Run a judged command; without ``session_id``, a run of a session is found first."""
        result = await command(execution_id, *args, session_id=session_id, **kwargs)
        if result is None and session_id is None:
            found = await self._views.get_execution(execution_id, None)  # every partition; or not found
            if found.routing_key != execution_id:  # a run of a session, or on a queue
                result = await command(execution_id, *args, session_id=found.routing_key, **kwargs)
        if result is None:
            raise ExecutionNotFoundError(f"no execution {execution_id!r} in namespace {self.log.namespace!r}")
        return result

    # -- views -----------------------------------------------------------------------

    async def get_execution(self, execution_id: str, *, session_id: str | None = None) -> Execution:
        """Status, result, error and open waits of one execution, folded from the log."""
        return await self._views.get_execution(execution_id, session_id)

    async def history(
        self, execution_id: str, *, session_id: str | None = None, include_claims: bool = True
    ) -> list[HistoryRecord]:
        """Every record of the execution in log order, decoded, with the fold's outcome.

        Without ``session_id``, a run of a session is found too, by reading every partition.
        """
        return await self._views.history(execution_id, session_id, include_claims)

    def follow(
        self,
        execution_id: str,
        *,
        session_id: str | None = None,
        include_claims: bool = False,
        until_ended: bool = True,
    ) -> AsyncIterator[HistoryRecord]:
        """The execution's records in log order, then each new one as it is folded (like
        ``history``, live); with ``until_ended`` it stops after the record that ends it."""
        return self._views.follow(execution_id, session_id, include_claims, until_ended)

    async def list_executions(
        self,
        status: str | None = None,
        *,
        workflow: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        session_id: str | None = None,
        user_id: str | None = None,
        parent_id: str | None = None,
        where: Callable[[Execution], bool] | None = None,
        after: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Execution]:
        """The executions of the namespace, oldest first (by creation, then id; with
        ``newest_first``, the reverse): of one status, of one workflow, created in
        ``[since, until)``, of a session, a user or a parent, and for which ``where`` holds;
        ``limit`` of them after the execution ``after`` (a page token: the last id of the
        page before), or all.

        Read from the run index the fold keeps (``run_query.py``): of the client's stores
        (``store_dir``) or of the workers' beside it (``worker_data_dir``), so a filtered
        page costs about the rows it returns. A client with neither folds each partition
        of the log from offset 0: fine for tests and small logs.
        """
        query = RunQuery(
            status=status,
            workflow=workflow,
            since_ms=None if since is None else to_ms(since),
            until_ms=None if until is None else to_ms(until),
            session_id=session_id,
            user_id=user_id,
            parent_id=parent_id,
        )
        return await self._views.list_executions(query, where, after, limit, newest_first)

    async def get_schedule(self, schedule_id: str) -> Schedule:
        """The cron schedule ``<workflow>/<key>`` (``ScheduleNotFoundError`` if none); the
        verbs that change schedules are in ``engine.schedules``."""
        return await self._views.schedule(schedule_id)

    async def list_schedules(self) -> list[Schedule]:
        """Every cron schedule of the namespace, by id."""
        return await self._views.schedules()

    async def list_queues(self, queue: str | None = None) -> list[QueueKey]:
        """Each (queue, concurrency key) that has had a run: its limit, its runs holding a
        slot and its runs waiting, in order."""
        return await self._views.queue_keys(queue)

    async def set_queue_limit(self, queue: str, limit: int) -> None:
        """Change a queue's concurrency limit for every key, at once and without a restart
        (it overrides the limit the code declares, until set again)."""
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise InputValidationError(f"queue {queue!r}: the limit must be an int >= 1, got {limit!r}")
        await self._commands.broadcast(records.queue_limit_set(now_ms(), queue=queue, limit=limit))

    async def dead_letters(self) -> list[DeadLetter]:
        """The events the router could not use (malformed, or unfit for a workflow), with why."""
        return await self._views.dead_letters()

    async def get_session_state(self, session_id: str) -> dict:
        """The session's state (``ctx.session.state``), folded from the log: key -> value."""
        return await self._views.session_state(session_id)

    # -- the workers ---------------------------------------------------------------------

    async def workers(self) -> list[WorkerInfo]:
        """The workers that announced themselves (what each runs), and whether each is connected."""
        return await self._cluster.workers()

    async def partitions(self) -> list[PartitionInfo]:
        """Each journal partition: its owner and epoch, its end, and how far its owner folded it."""
        return await self._cluster.partitions()
