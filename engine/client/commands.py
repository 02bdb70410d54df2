"""What a client appends: invocations, cancellations, resumes and domain events.

Commands carry epoch 0 and are never fenced; they are idempotent instead (an invocation
by its execution id). Bad input raises before anything is written.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from .. import names
from ..clock import now_ms
from ..errors import LogloomError
from ..log.base import Log
from ..wire import records
from ..wire.codec import Codec
from ..wire.events import encode_event, split_topic
from ..wire.serde import to_json
from ..workflow.registry import Workflow
from ..workflow.state import dump_state
from .live import LiveResults


def invocation(
    workflow: Workflow | str,
    payload: Any,
    execution_id: str | None,
    user_id: str | None,
    session_id: str | None,
    run_timeout_s: float | None,
    initial_state: Any,
) -> records.Record:
    """The ``InvocationRequested`` record, checked: bad input raises before anything is written."""
    execution_id = execution_id or uuid.uuid4().hex
    if isinstance(workflow, Workflow):
        name = workflow.name
        initial_state = workflow.check_input(payload, initial_state, name)
    else:
        name = workflow
    return records.invocation_requested(
        execution_id,
        now_ms(),
        workflow=name,
        input=to_json(payload, f"input of execution {execution_id}"),
        user_id=user_id,
        session_id=session_id,
        initial_state=None if initial_state is None else dump_state(initial_state, execution_id),
        run_timeout_ms=None if run_timeout_s is None else int(run_timeout_s * 1000),
    )


class Commands:
    def __init__(self, log: Log, codec: Codec, live: LiveResults):
        self.log = log
        self.codec = codec
        self.live = live

    async def _append(self, routing_key: str, record: records.Record) -> int:
        return await self.log.append(
            self.log.partition_for(routing_key), routing_key.encode(), self.codec.encode(record)
        )

    async def submit(self, record: records.Record, fresh: bool) -> str:
        """Append an invocation; returns its routing key. ``fresh``: the id is new, so nothing
        of it can precede this append, and the live view watches it before it is written."""
        routing_key = names.routing_key(record["execution_id"], record["session_id"])
        if fresh:
            await self.live.watch(routing_key, fresh=True)
        await self._append(routing_key, record)
        return routing_key

    async def submit_all(self, invocations: list[records.Record]) -> list[str]:
        return list(await asyncio.gather(*(self.submit(r, fresh=True) for r in invocations)))

    async def publish_event(self, topic: str, data: Any, key: str | None, schema: dict | None) -> tuple[int, int]:
        name, topic_key = split_topic(topic)
        if topic_key is not None and key is not None and key != topic_key:
            raise LogloomError(f"two keys for one event: {topic!r} and key={key!r}")
        key = topic_key if topic_key is not None else key
        return await self.log.publish(name, None if key is None else key.encode(), encode_event(data, schema))

    async def cancel(self, execution_id: str, reason: str, session_id: str | None) -> None:
        await self._append(
            names.routing_key(execution_id, session_id), records.cancel_requested(execution_id, now_ms(), reason=reason)
        )

    async def resume(self, execution_id: str, name: str, data: Any, session_id: str | None) -> None:
        text = to_json(data, f"resume data for {execution_id}/{name}")
        await self._append(
            names.routing_key(execution_id, session_id),
            records.resume_requested(execution_id, now_ms(), name=name, data=text),
        )
