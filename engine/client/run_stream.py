"""Reading a run's stream (``ctx.stream``): ``client.stream(execution_id)``.

A run and its call tree publish to the namespace's stream topic under the root's
execution id. A reader:

1. waits for the topic to exist (nothing was streamed yet otherwise);
2. reads the root's partition from ``from_offset`` (to re-attach after a disconnect:
   the offset after the last event seen) or from when the run was created;
3. yields that root's events, in order, each with its offset;
4. stops once the run has ended and everything before its end is read (the run flushes
   its stream before it ends), or when the caller stops iterating.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .. import names
from ..clock import CLOCK_SKEW_MS, to_datetime
from ..log.base import Log, partition_for
from ..wire.serde import from_json

POLL_S = 0.2
FAR_FUTURE_MS = 2**62  # offset_for_time past every record: the partition's end


@dataclass(frozen=True)
class StreamEvent:
    partition: int
    offset: int  # re-attach with from_offset=offset + 1
    execution_id: str  # the run that emitted it (the root or one of its children)
    workflow: str
    kind: str
    data: Any
    at: datetime | None


async def stream_events(
    log: Log,
    root_id: str,
    *,
    from_offset: int | None = None,
    since_ms: int | None = None,
    ended: asyncio.Future | None = None,
) -> AsyncIterator[StreamEvent]:
    topic = names.stream_topic(log.namespace)
    while (count := await log.topic_partitions(topic)) == 0:
        if ended is not None and ended.done():
            return
        await asyncio.sleep(POLL_S)
    partition = partition_for(root_id, count)
    if from_offset is None:
        from_offset = 0 if since_ms is None else await log.offset_for_time(topic, partition, since_ms - CLOCK_SKEW_MS)
    key = root_id.encode()
    reader = log.topic_reader(topic)
    reader.assign(partition, from_offset)
    position = from_offset
    try:
        while True:
            entries = await reader.poll(POLL_S)
            for entry in entries:
                position = entry.offset + 1
                if entry.key != key:
                    continue
                event = from_json(entry.value.decode())
                yield StreamEvent(
                    partition=entry.partition,
                    offset=entry.offset,
                    execution_id=event["execution_id"],
                    workflow=event["workflow"],
                    kind=event["kind"],
                    data=event.get("data"),
                    at=to_datetime(event.get("at")),
                )
            if not entries and ended is not None and ended.done():
                if position >= await log.offset_for_time(topic, partition, FAR_FUTURE_MS):
                    return
    finally:
        await reader.close()
