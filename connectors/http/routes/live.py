"""Server-Sent Events: a run's history as it is folded, and its live stream (``ctx.stream``).

Each event has an ``id:`` of ``<partition>:<offset>``. A reader that reconnects with
``Last-Event-ID`` (or ``?last_event_id=``, for an ``EventSource`` that cannot set headers)
gets only what came after that event:

- ``/events``: the run's records (``Client.follow``), ``event: record``, the records at or
  before the id skipped; after the record that ends the run, ``event: end`` with the run.
- ``/stream``: what the run and its call tree emit (``Client.stream``), ``event: stream``,
  read on from the offset after the id; once the run has ended and its stream is read,
  ``event: end``.

Neither ``end`` has an id, so a reconnect after it resumes after the last record and gets
``end`` again at once: close the ``EventSource`` on ``end``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import APIRouter, Header, Query
from sse_starlette import EventSourceResponse, ServerSentEvent

from engine import Client, Execution, ExecutionHandle
from engine.client import StreamEvent

from .. import errors
from ..deps import EngineDep
from ..errors import ApiError, ErrorCode
from ..models import HistoryEntry
from .runs import RunId

PING_S = 15  # a comment line this often keeps proxies from closing an idle stream
CLEANUP_S = 5.0  # closing a stream's readers
SHUTDOWN_GRACE_S = 2.0  # less than the server's graceful shutdown (server.GRACEFUL_SHUTDOWN_S)
END_CATCH_UP_S = 10.0  # /events: how long the end event waits for the live view to see the end

router = APIRouter(tags=["live"])

_SSE = {
    200: {
        "description": "text/event-stream: `record` (or `stream`) events with id `<partition>:<offset>`, "
        "then one `end` event with the run",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    },
    **errors.responses(400, 404),
}

LastEventId = Annotated[
    str | None, Header(alias="Last-Event-ID", description="resume after this event id (<partition>:<offset>)")
]
LastEventIdQuery = Annotated[
    str | None,
    Query(alias="last_event_id", description="the same as the Last-Event-ID header, for clients that cannot set it"),
]


def parse_event_id(value: str | None) -> tuple[int, int] | None:
    """``"<partition>:<offset>"`` as (partition, offset); 400 INVALID_INPUT if it is not one."""
    if value is None or not value.strip():
        return None
    partition, sep, offset = value.strip().partition(":")
    if not (sep and partition.isdigit() and offset.isdigit()):
        raise ApiError(400, ErrorCode.INVALID_INPUT, f"Last-Event-ID {value!r} is not <partition>:<offset>")
    return int(partition), int(offset)


def _response(events: AsyncIterator[ServerSentEvent]) -> EventSourceResponse:
    """An SSE answer that ends cleanly when the server shuts down: the stream stops at the
    next event boundary without an ``end`` (the reader reconnects with its Last-Event-ID),
    instead of being cut mid-response."""
    shutdown = anyio.Event()
    return EventSourceResponse(
        _until(shutdown, events), ping=PING_S, shutdown_event=shutdown, shutdown_grace_period=SHUTDOWN_GRACE_S
    )


async def _until(stop: anyio.Event, events: AsyncIterator[ServerSentEvent]) -> AsyncIterator[ServerSentEvent]:
    """``events`` until ``stop`` is set. Then, or when the reader hangs up, the event being
    awaited is cancelled and ``events`` closed (shielded: its readers must be closed)."""
    stopped = asyncio.ensure_future(stop.wait())
    following: asyncio.Future | None = None
    try:
        while True:
            following = asyncio.ensure_future(anext(events))
            await asyncio.wait({following, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not following.done():
                return
            try:
                event = following.result()
            except StopAsyncIteration:
                return
            following = None
            yield event
    finally:
        pending = [task for task in (stopped, following) if task is not None]
        for task in pending:
            task.cancel()
        with anyio.move_on_after(CLEANUP_S, shield=True):
            await asyncio.gather(*pending, return_exceptions=True)
            await events.aclose()


def _end(execution: Execution) -> ServerSentEvent:
    return ServerSentEvent(execution.model_dump_json(), event="end")


async def _ended(handle: ExecutionHandle) -> Execution:
    """The run as it ended. ``follow`` has yielded its last record, but ``get_execution`` may
    answer from the client's live view, which can fold that record a moment later (Kafka):
    the handle waits until the live view has it too."""
    with contextlib.suppress(TimeoutError):
        return await handle.wait(timeout=END_CATCH_UP_S)
    return await handle.status()


async def _opened(
    client: Client, execution_id: str, last_event_id: str | None
) -> tuple[Execution, ExecutionHandle, tuple[int, int] | None]:
    """A stream's run, a handle on it and where to resume: the run is read now, so an
    unknown one is a 404 before the stream's 200."""
    after = parse_event_id(last_event_id)
    execution = await client.get_execution(execution_id)
    return execution, ExecutionHandle(client, execution.execution_id, execution.routing_key, False), after


@router.get("/runs/{execution_id:path}/events", summary="A run's history records, live (SSE)", responses=_SSE)
async def run_events(
    engine: EngineDep,
    execution_id: RunId,
    last_event_id: LastEventId = None,
    last_event_id_query: LastEventIdQuery = None,
) -> EventSourceResponse:
    client = engine.client
    execution, handle, after = await _opened(client, execution_id, last_event_id or last_event_id_query)

    async def records() -> AsyncIterator[ServerSentEvent]:
        async with contextlib.aclosing(client.follow(execution_id, until_ended=True)) as followed:
            async for record in followed:
                if after is not None and (record.partition, record.offset) <= after:
                    continue
                entry = HistoryEntry.of(record)
                yield ServerSentEvent(entry.model_dump_json(), event="record", id=entry.event_id)
        yield _end(await _ended(handle))

    return _response(records())


@router.get("/runs/{execution_id:path}/stream", summary="What a run streams (ctx.stream), live (SSE)", responses=_SSE)
async def run_stream(
    engine: EngineDep,
    execution_id: RunId,
    last_event_id: LastEventId = None,
    last_event_id_query: LastEventIdQuery = None,
) -> EventSourceResponse:
    client = engine.client
    execution, handle, after = await _opened(client, execution_id, last_event_id or last_event_id_query)
    since_ms = None
    if after is None and execution.created_at is not None:
        since_ms = int(execution.created_at.timestamp() * 1000)  # the reader starts a little before
    return _response(_streamed(client, handle, after, since_ms))


async def _streamed(
    client: Client, handle: ExecutionHandle, after: tuple[int, int] | None, since_ms: int | None
) -> AsyncIterator[ServerSentEvent]:
    ended = asyncio.ensure_future(handle.result())
    ended.add_done_callback(lambda f: f.cancelled() or f.exception())  # a failed run is an end too
    try:
        events = client.stream(
            handle.execution_id, from_offset=None if after is None else after[1] + 1, since_ms=since_ms, ended=ended
        )
        async with contextlib.aclosing(events) as streamed:
            async for event in streamed:
                yield ServerSentEvent(_stream_data(event), event="stream", id=f"{event.partition}:{event.offset}")
        yield _end(await handle.status())
    finally:
        ended.cancel()


def _stream_data(event: StreamEvent) -> str:
    return json.dumps(
        {
            "execution_id": event.execution_id,
            "workflow": event.workflow,
            "kind": event.kind,
            "data": event.data,
            "at": None if event.at is None else event.at.isoformat(),
            "partition": event.partition,
            "offset": event.offset,
        },
        separators=(",", ":"),
    )
