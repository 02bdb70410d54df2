"""``agent.stream(...)``: an agent run's tokens and tool calls as they happen.

The model call streams when the run was started by ``agent.stream`` (``AgentInput.stream``):
its step body hands each text delta to ``ctx.stream`` while the call runs, and tool
bodies announce their calls and results. Only the final response is recorded in the
journal; the stream is on the stream topic, so a reader that lost its connection
re-attaches from the offset after the last event it saw (``agent.attach``).

Event kinds: ``text_delta`` ``{"agent", "step", "text"}``, ``tool_call``
``{"agent", "step", "name", "arguments"}``, ``tool_result`` ``{"agent", "step", "name",
"result" | "error"}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from ..client import StreamEvent

TEXT_DELTA, TOOL_CALL, TOOL_RESULT = "text_delta", "tool_call", "tool_result"


class AgentStream:
    """One reader of one agent run: iterate ``events`` or ``text_chunks`` (one of them, once)."""

    def __init__(self, client, handle, *, from_offset: int | None = None, since_ms: int | None = None):
        self.execution_id: str = handle.execution_id
        self._ended = asyncio.ensure_future(handle.result())
        self._ended.add_done_callback(_retrieve)
        self._source = client.stream(handle.execution_id, from_offset=from_offset, since_ms=since_ms, ended=self._ended)
        self._texts: list[str] = []
        self.last_offset: int | None = None  # re-attach with from_offset=last_offset + 1

    @property
    async def events(self) -> AsyncIterator[StreamEvent]:
        async for event in self._source:
            self.last_offset = event.offset
            if event.kind == TEXT_DELTA:
                self._texts.append(event.data["text"])
            yield event

    @property
    async def text_chunks(self) -> AsyncIterator[str]:
        async for event in self.events:
            if event.kind == TEXT_DELTA:
                yield event.data["text"]

    async def text(self) -> str:
        """All the text streamed, once the run has ended."""
        async for _ in self.events:
            pass
        return "".join(self._texts)

    async def result(self) -> Any:
        """The run's ``AgentResult`` (``WorkflowFailedError`` if it failed)."""
        return await self._ended

    async def close(self) -> None:
        """Stop reading (the run goes on); re-attach later from ``last_offset + 1``."""
        await self._source.aclose()
        if not self._ended.done():
            self._ended.cancel()


def _retrieve(ended: asyncio.Future) -> None:
    if not ended.cancelled():
        ended.exception()  # seen: a failure is raised by result(), not logged as unretrieved
