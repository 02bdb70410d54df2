"""What a client appends: invocations, cancellations, resumes and domain events.

Commands carry epoch 0 and are never fenced; they are idempotent instead (an invocation
by its execution id). Bad input raises before anything is written. A command that can
fail to take effect is judged (``outcomes.py``): the client reads what the fold made of
its record, and says so.

Execution-id policy: invoking an id again with the same workflow and the same input
returns the run that exists (the idempotent case); another workflow or another input is
an ``ExecutionIdConflictError`` naming the run that exists.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from .. import names
from ..clock import now_ms, to_datetime
from ..errors import ExecutionIdConflictError, InputValidationError, LogloomError
from ..fold import EffectKind
from ..fold.keys import execution_key
from ..log.base import Log
from ..wire import records
from ..wire.codec import Codec
from ..wire.events import encode_event, split_topic
from ..wire.serde import from_json, to_json
from ..wire.trace_context import valid_traceparent
from ..workflow.queues import Queue
from ..workflow.registry import Workflow
from ..workflow.state import dump_state
from .live import LiveResults
from .outcomes import judge
from .stored import StoredResults


def invocation(
    workflow: Workflow | str,
    payload: Any,
    execution_id: str | None,
    user_id: str | None,
    session_id: str | None,
    run_timeout_s: float | None,
    initial_state: Any,
    queue: Queue | None = None,
    concurrency_key: str | None = None,
    priority: int = 0,
    rerun: dict | None = None,
    traceparent: str | None = None,
) -> records.Record:
    """The ``InvocationRequested`` record, checked: bad input raises before anything is written.

    ``queue``: the run's queue, else the workflow's own (``@workflow(queue=...)``).
    ``rerun``: the old run and the recorded prefix of its journal (``Client.rerun``)."""
    execution_id = execution_id or uuid.uuid4().hex
    if isinstance(workflow, Workflow):
        name = workflow.name
        initial_state = workflow.check_input(payload, initial_state, name)
        queue = queue or workflow.queue
    else:
        name = workflow
    if queue is None and (concurrency_key is not None or priority):
        raise InputValidationError(f"execution {execution_id}: concurrency_key and priority need a queue")
    if queue is not None and session_id is not None:
        raise InputValidationError(f"execution {execution_id}: a run cannot be in a session and on a queue")
    return records.invocation_requested(
        execution_id,
        now_ms(),
        workflow=name,
        input=to_json(payload, f"input of execution {execution_id}"),
        user_id=user_id,
        session_id=session_id,
        initial_state=None if initial_state is None else dump_state(initial_state, execution_id),
        run_timeout_ms=None if run_timeout_s is None else int(run_timeout_s * 1000),
        queue=None if queue is None else queue.request(concurrency_key, priority),
        rerun=rerun,
        traceparent=valid_traceparent(traceparent),
    )


def invocation_routing_key(record: records.Record) -> str:
    """Where an invocation goes (``names.invocation_routing_key``)."""
    return names.invocation_routing_key(record["execution_id"], record["session_id"], record.get("queue"))


class Commands:
    def __init__(self, log: Log, codec: Codec, live: LiveResults | StoredResults):
        self.log = log
        self.codec = codec
        self.live = live

    async def _append(self, routing_key: str, record: records.Record) -> int:
        return await self.log.append(
            self.log.partition_for(routing_key), routing_key.encode(), self.codec.encode(record)
        )

    async def broadcast(self, record: records.Record) -> None:
        """Append a command to every partition (a queue's keys may live on any of them)."""
        encoded = self.codec.encode(record)
        await asyncio.gather(
            *(self.log.append(p, names.PARTITION_KEY, encoded) for p in range(self.log.num_partitions))
        )

    async def submit(self, record: records.Record, fresh: bool) -> str:
        """Append an invocation; returns its routing key. ``fresh``: the id is new, so nothing
        of it can precede this append, and the live view watches it before it is written."""
        routing_key = invocation_routing_key(record)
        if fresh:
            await self.live.watch(routing_key, fresh=True)
        await self._append(routing_key, record)
        return routing_key

    async def submit_all(self, invocations: list[records.Record]) -> list[str]:
        return list(await asyncio.gather(*(self.submit(r, fresh=True) for r in invocations)))

    async def submit_once(self, record: records.Record) -> tuple[str, bool]:
        """Append an invocation with a chosen id; (routing key, whether it started a new run).

        A run with that id of the same workflow and input is the same run; any other is a
        conflict."""
        routing_key = invocation_routing_key(record)
        effects, state = await self.live.judge(routing_key, lambda: self._append(routing_key, record))
        if any(e.kind in (EffectKind.INVOKED, EffectKind.QUEUED) for e in effects):
            return routing_key, True
        row = state.get(execution_key(record["execution_id"]))
        if row["workflow"] != record["workflow"] or from_json(row["input"]) != from_json(record["input"]):
            raise ExecutionIdConflictError(
                f"execution id {row['id']!r} is taken by a run of {row['workflow']} ({row['status']}, started "
                f"{to_datetime(row['created_at']).isoformat(timespec='seconds')}) with "
                + ("another input" if row["workflow"] == record["workflow"] else f"input {row['input']}")
                + "; choose another id, or invoke the same workflow and input to get that run",
                execution_id=row["id"],
                workflow=row["workflow"],
            )
        return routing_key, False

    async def judged(self, execution_id: str, session_id: str | None, record: records.Record, applied: str):
        """Append a command for one execution; its ``CommandResult``, or None if the fold
        knows no such execution where the routing key points."""
        routing_key = names.routing_key(execution_id, session_id)
        effects, state = await self.live.judge(routing_key, lambda: self._append(routing_key, record))
        row = state.get(execution_key(execution_id))
        return None if row is None else judge(effects, row, applied)

    async def publish_event(self, topic: str, data: Any, key: str | None, schema: dict | None) -> tuple[int, int]:
        name, topic_key = split_topic(topic)
        if topic_key is not None and key is not None and key != topic_key:
            raise LogloomError(f"two keys for one event: {topic!r} and key={key!r}")
        key = topic_key if topic_key is not None else key
        return await self.log.publish(name, None if key is None else key.encode(), encode_event(data, schema))

    async def cancel(self, execution_id: str, reason: str, session_id: str | None, terminate: bool):
        record = records.cancel_requested(execution_id, now_ms(), reason=reason, terminate=terminate)
        done = (
            "termination requested: it stops now"
            if terminate
            else "cancellation requested: it stops at its next step or wait"
        )
        return await self.judged(execution_id, session_id, record, done)

    async def resume(self, execution_id: str, name: str, data: Any, session_id: str | None):
        text = to_json(data, f"resume data for {execution_id}/{name}")
        record = records.resume_requested(execution_id, now_ms(), name=name, data=text)
        return await self.judged(execution_id, session_id, record, f"resumed {name!r}")
