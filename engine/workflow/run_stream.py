"""``ctx.stream``: events for whoever watches a run live, outside the journal.

A run (and every run in its call tree) streams to the stream topic under its root's
execution id, so one reader follows an agent and the agents it hands off to. Events are
not recorded and not replayed: emit them from inside step bodies, which run exactly as
often as they really run, and a reader sees what happened, once.

1. The first ``emit`` of a run makes sure the stream topic exists.
2. Each ``emit`` starts its publish at once, in call order (so in order on the topic),
   without waiting for the broker: a token stream is not slowed by acknowledgements.
3. ``flush`` waits until everything emitted so far is durable.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ..clock import now_ms
from ..wire.serde import to_json
from .port import RunPort
from .step_context import logger


class RunStream:
    def __init__(self, run: RunPort, execution_id: str, workflow: str, root_id: str | None):
        self._run = run
        self._execution_id = execution_id
        self._workflow = workflow
        self._key = (root_id or execution_id).encode()
        self._topic: str | None = None
        self._pending: list[asyncio.Future] = []

    async def emit(self, kind: str, data: Any = None) -> None:
        """Publish ``{"kind": kind, "data": data}`` to this run's stream."""
        if self._topic is None:
            self._topic = await self._run.stream_topic()
        event = {
            "execution_id": self._execution_id,
            "workflow": self._workflow,
            "kind": kind,
            "data": data,
            "at": now_ms(),
        }
        value = to_json(event, f"stream event {kind!r} of execution {self._execution_id}").encode()
        self._pending = [f for f in self._pending if not f.done()]
        sent = self._run.publish_nowait(self._topic, self._key, value)
        sent.add_done_callback(_log_failure)
        self._pending.append(sent)

    async def flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending:
            await asyncio.gather(*pending)


def _log_failure(sent: asyncio.Future) -> None:
    if not sent.cancelled() and sent.exception() is not None:
        logger.warning("a stream event was not published: %s", sent.exception())
