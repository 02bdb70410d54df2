"""The router: events on domain topics become journal records.

It runs beside the owner of journal partition 0, so one router is active per namespace,
and it moves with that partition on a rebalance. For each triggering topic it reads
every partition from the router group's committed offsets (from the start, for a topic
it never read), and for each event, in offset order:

1. Decode it (JSON). A malformed event goes to the dead-letter topic with the reason.
2. For each workflow the topic triggers, build and validate the input; an event the
   workflow rejects goes to the dead-letter topic. Otherwise append
   ``InvocationRequested`` with the execution id ``<workflow>:<topic>:<partition>:<offset>``.
3. When those appends are acknowledged, commit the offsets of the batch.

A crash between 2 and 3 reads the events again; the fold ignores an invocation whose
execution id exists, so every event starts exactly one execution per workflow.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from datetime import datetime, timezone

import orjson

from . import topics
from .codec import Codec
from .errors import LogloomError
from .events import EventPayload, decode_event
from .log.base import Entry, Log
from .registry import Registry, Workflow
from .serde import to_json

log = logging.getLogger(__name__)


def router_group(namespace: str) -> str:
    return f"{namespace}.router"


def trigger_execution_id(wf: Workflow, entry: Entry) -> str:
    return f"{wf.name}:{entry.topic}:{entry.partition}:{entry.offset}"


def trigger_payload(wf: Workflow, entry: Entry, data) -> object:
    """The whole event for an ``EventPayload`` parameter; otherwise the event's data."""
    model = wf.binder.model
    if model is not None and issubclass(model, EventPayload):
        return {"data": data, "key": entry.key.decode() if entry.key else None, "topic": entry.topic,
                "partition": entry.partition, "offset": entry.offset,
                "timestamp": datetime.fromtimestamp(entry.timestamp / 1000, tz=timezone.utc).isoformat()}
    return data


class Router:
    def __init__(self, log_: Log, registry: Registry, codec: Codec):
        self.log = log_
        self.registry = registry
        self.codec = codec
        self.group = router_group(log_.namespace)
        self._tasks: list[asyncio.Task] = []

    @property
    def running(self) -> bool:
        return bool(self._tasks)

    def start(self) -> None:
        if self._tasks:
            return
        for topic, workflows in sorted(self.registry.triggered_by().items()):
            self._tasks.append(asyncio.create_task(self._route(topic, workflows), name=f"router {topic}"))

    async def stop(self) -> None:
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _route(self, topic: str, workflows: list[Workflow]) -> None:
        while True:
            try:
                await self._route_topic(topic, workflows)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("router for %s failed; restarting in 1 s", topic)
                await asyncio.sleep(1)

    async def _route_topic(self, topic: str, workflows: list[Workflow]) -> None:
        partitions = await self.log.ensure_topic(topic)
        committed = await self.log.committed(self.group, topic)
        reader = self.log.topic_reader(topic)
        try:
            for partition in range(partitions):
                reader.assign(partition, committed.get(partition, 0))
            log.info("router: %s -> %s", topic, [wf.name for wf in workflows])
            while True:
                entries = await reader.poll(timeout=0.5)
                if not entries:
                    continue
                await asyncio.gather(*(self._handle(entry, workflows) for entry in entries))
                positions: dict[int, int] = {}
                for entry in entries:
                    positions[entry.partition] = max(positions.get(entry.partition, 0), entry.offset + 1)
                await self.log.commit(self.group, topic, positions)
        finally:
            await reader.close()

    async def _handle(self, entry: Entry, workflows: list[Workflow]) -> None:
        try:
            data = decode_event(entry.value)
        except ValueError as exc:
            await self._dead_letter(entry, f"malformed event: not JSON ({exc})")
            return
        appends = []
        for wf in workflows:
            payload = trigger_payload(wf, entry, data)
            try:
                wf.binder.bind(payload)
            except LogloomError as exc:
                await self._dead_letter(entry, f"event does not fit workflow {wf.name}: {exc}")
                continue
            execution_id = trigger_execution_id(wf, entry)
            record = {"execution_id": execution_id, "epoch": 0, "at": int(time.time() * 1000),
                      "workflow": wf.name, "input": to_json(payload, f"input of execution {execution_id}"),
                      "user_id": None, "session_id": None, "parent_execution_id": None, "root_execution_id": None}
            appends.append(self.log.append(self.log.partition_for(execution_id), execution_id.encode(),
                                           self.codec.encode("InvocationRequested", record)))
        await asyncio.gather(*appends)

    async def _dead_letter(self, entry: Entry, reason: str) -> None:
        log.warning("dead-lettering %s[%d]@%d: %s", entry.topic, entry.partition, entry.offset, reason)
        try:
            value = entry.value.decode()
            encoding = "utf-8"
        except UnicodeDecodeError:
            value, encoding = base64.b64encode(entry.value).decode(), "base64"
        letter = {"reason": reason, "topic": entry.topic, "partition": entry.partition, "offset": entry.offset,
                  "key": entry.key.decode(errors="replace") if entry.key else None,
                  "value": value, "value_encoding": encoding, "timestamp": entry.timestamp}
        await self.log.publish(topics.dead_letter(self.log.namespace), entry.key or None, orjson.dumps(letter))
