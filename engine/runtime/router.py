"""The router: events on domain topics become journal records.

It runs beside the owner of journal partition 0, so one router is active per namespace,
and it moves with that partition on a rebalance. It reads the topics that trigger
workflows, and the topics workflows wait on (partition 0 folds the set, from
``TopicAwaited`` records). It reads every partition from the router group's committed
offsets; a topic it never read starts at the beginning (triggers) or at the creation
time of the first execution that waited on it (waits), so no event after that is
missed. For each event, in offset order:

1. Decode it (JSON, or Avro with a registered schema). A malformed event goes to the
   dead-letter topic with the reason.
2. For each workflow the topic triggers, build and validate the input; an event the
   workflow rejects goes to the dead-letter topic. Otherwise append
   ``InvocationRequested`` with the execution id ``<workflow>:<topic>:<partition>:<offset>``
   (``names.trigger_execution_id``). If workflows wait on the topic, append
   ``EventReceived`` to the event's partition (see ``fold/event_waits.py``).
3. When those appends are acknowledged, commit the offsets of the batch. Commits keep
   batch order; meanwhile the router reads and handles the next batches (at most
   ``MAX_BATCHES_IN_FLIGHT`` not yet committed).

A crash between 2 and 3 reads the events again; the fold ignores an invocation whose
execution id exists, so every event starts exactly one execution per workflow.

Webhook deliveries take the same path: the router reads the topic of every source a
``webhook(...)`` trigger names (``names.webhook_topic``). In step 2 a delivery (an
envelope, ``wire/webhooks.py``) starts the workflows whose trigger matches its endpoint
and event type, with the execution id ``names.webhook_execution_id``, derived from the
delivery id: a provider's retry, or a second copy on the topic, starts nothing new.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from collections import deque

import orjson

from .. import names
from ..clock import now_ms, to_datetime
from ..errors import LogloomError
from ..log.base import Entry, Log
from ..wire import records
from ..wire.codec import Codec
from ..wire.events import EventPayload, decode_event
from ..wire.serde import to_json
from ..wire.trace_context import valid_traceparent
from ..wire.webhooks import decode_envelope, delivery_of
from ..workflow.registry import Registry, Workflow
from ..workflow.webhooks import webhook_payload

log = logging.getLogger(__name__)


LETTER_VALUE_BYTES = 256 * 1024  # of a dead letter's value, the start kept (Kafka's default limit is 1 MB)
MAX_BATCHES_IN_FLIGHT = 4  # batches read ahead while earlier ones await their acks and commit


def trigger_payload(wf: Workflow, entry: Entry, data) -> object:
    """The whole event for an ``EventPayload`` parameter; otherwise the event's data."""
    model = wf.binder.model
    if model is not None and issubclass(model, EventPayload):
        return {
            "data": data,
            "key": entry.key.decode() if entry.key else None,
            "topic": entry.topic,
            "partition": entry.partition,
            "offset": entry.offset,
            "timestamp": to_datetime(entry.timestamp).isoformat(),
        }
    return data


class Router:
    def __init__(self, log_: Log, registry: Registry, codec: Codec):
        self.log = log_
        self.registry = registry
        self.codec = codec
        self.group = names.router_group(log_.namespace)
        self._tasks: dict[str, asyncio.Task] = {}
        self._awaited: dict[str, int] = {}  # topic -> read it from this time, when never read
        self._webhook_triggers = registry.webhook_triggers()
        self._webhook_topics = {names.webhook_topic(log_.namespace, t.source) for _, t in self._webhook_triggers}
        self._active = False

    @property
    def running(self) -> bool:
        return self._active

    def start(self) -> None:
        if self._active:
            return
        self._active = True
        for topic in sorted(set(self.registry.triggered_by()) | set(self._webhook_topics) | set(self._awaited)):
            self._start_topic(topic)

    def watch(self, topic: str, since_ms: int) -> None:
        """Workflows wait on ``topic``: route its events from ``since_ms`` on."""
        known_ms = self._awaited.get(topic)
        if known_ms is not None and known_ms <= since_ms:
            return
        self._awaited[topic] = since_ms
        if self._active:
            self._start_topic(topic, rewind_to_ms=since_ms)

    def _start_topic(self, topic: str, rewind_to_ms: int | None = None) -> None:
        old = self._tasks.pop(topic, None)
        if old is not None:
            old.cancel()
        self._tasks[topic] = asyncio.create_task(self._route(topic, rewind_to_ms), name=f"router {topic}")

    async def stop(self) -> None:
        self._active = False
        self._awaited = {}
        tasks, self._tasks = list(self._tasks.values()), {}
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _route(self, topic: str, rewind_to_ms: int | None) -> None:
        while True:
            try:
                await self._route_topic(topic, rewind_to_ms)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("router for %s failed; restarting in 1 s", topic)
                await asyncio.sleep(1)

    async def _start_offsets(self, topic: str, partitions: int, rewind_to_ms: int | None) -> dict[int, int]:
        committed = await self.log.committed(self.group, topic)
        since_ms = self._awaited.get(topic)
        starts = {}
        for partition in range(partitions):
            start = committed.get(partition)
            if start is None and since_ms is not None:
                start = await self.log.offset_for_time(topic, partition, since_ms)
            if rewind_to_ms is not None:  # newly awaited while read for triggers only: read the gap again
                start = min(
                    start if start is not None else 0, await self.log.offset_for_time(topic, partition, rewind_to_ms)
                )
            starts[partition] = start or 0
        return starts

    async def _route_topic(self, topic: str, rewind_to_ms: int | None) -> None:
        partitions = await self.log.ensure_topic(topic)
        starts = await self._start_offsets(topic, partitions, rewind_to_ms)
        reader = self.log.topic_reader(topic)
        committing: deque[asyncio.Task] = deque()  # per batch: await its appends, then commit
        try:
            for partition, offset in starts.items():
                reader.assign(partition, offset)
            workflows = self.registry.triggered_by().get(topic, [])
            log.info(
                "router: %s from %s -> %s%s",
                topic,
                starts,
                [wf.name for wf in workflows],
                " and waits" if topic in self._awaited else "",
            )
            while True:
                while committing and (committing[0].done() or len(committing) >= MAX_BATCHES_IN_FLIGHT):
                    await committing.popleft()  # raises if an append or commit failed: restart
                entries = await reader.poll(0.5)
                if not entries:
                    continue
                appends = []  # one gather for the batch: no task per event
                for entry in entries:
                    appends.extend(self._handle(entry, workflows))
                positions: dict[int, int] = {}
                for entry in entries:
                    positions[entry.partition] = max(positions.get(entry.partition, 0), entry.offset + 1)
                # Read the next batch while this one's appends are acknowledged and committed.
                previous = committing[-1] if committing else None
                committing.append(asyncio.create_task(self._commit_when_acked(previous, appends, topic, positions)))
        finally:
            for task in committing:
                task.cancel()
            await asyncio.gather(*committing, return_exceptions=True)
            await reader.close()

    async def _commit_when_acked(
        self, previous: asyncio.Task | None, appends: list, topic: str, positions: dict[int, int]
    ) -> None:
        """Commit a batch's offsets once its appends are acknowledged and the batch before it committed."""
        await asyncio.gather(*appends)
        if previous is not None:
            await previous
        await self.log.commit(self.group, topic, positions)

    def _handle(self, entry: Entry, workflows: list[Workflow]) -> list:
        """Start the appends (and dead letters) for one event; returns them to be awaited."""
        try:
            data = decode_event(entry.value)
        except ValueError as exc:
            return [self.dead_letter(entry, f"malformed event: {exc}")]
        appends = self._handle_webhook(entry) if entry.topic in self._webhook_topics else []
        for wf in workflows:  # event triggers (of any topic, a webhook topic too)
            payload = trigger_payload(wf, entry, data)
            try:
                wf.binder.bind(payload)
            except LogloomError as exc:
                appends.append(self.dead_letter(entry, f"event does not fit workflow {wf.name}: {exc}"))
                continue
            execution_id = names.trigger_execution_id(wf.name, entry.topic, entry.partition, entry.offset)
            traceparent = valid_traceparent(getattr(entry, "traceparent", None))  # a Kafka header (TopicEntry)
            appends.append(self._invoke(wf, execution_id, payload, traceparent))
        if entry.topic in self._awaited:
            event_key = entry.key.decode(errors="replace") if entry.key else None
            record = records.event_received(
                now_ms(),
                topic=entry.topic,
                event_key=event_key,
                partition=entry.partition,
                offset=entry.offset,
                timestamp=entry.timestamp,
                data=orjson.dumps(data, default=str).decode(),
            )
            appends.append(self._append(names.event_routing_key(entry.topic, event_key), record))
        return appends

    def _handle_webhook(self, entry: Entry) -> list:
        """Start the runs one webhook delivery starts (its matching triggers); returns the appends."""
        try:
            delivery = delivery_of(decode_envelope(entry.value))
        except (ValueError, KeyError, TypeError) as exc:
            return [self.dead_letter(entry, f"malformed webhook delivery: {exc}")]
        appends = []
        for wf, trigger in self._webhook_triggers:
            if not trigger.matches(delivery.source, delivery.name, delivery.event):
                continue
            payload = webhook_payload(wf.binder, delivery)
            try:
                wf.binder.bind(payload)
            except LogloomError as exc:
                appends.append(self.dead_letter(entry, f"webhook delivery does not fit workflow {wf.name}: {exc}"))
                continue
            execution_id = names.webhook_execution_id(wf.name, delivery.source, delivery.name, delivery.delivery_id)
            appends.append(self._invoke(wf, execution_id, payload))
        return appends

    def _invoke(self, wf: Workflow, execution_id: str, payload, traceparent: str | None = None) -> asyncio.Future:
        request = None if wf.queue is None else wf.queue.request(None, 0)  # its queue, one key for all events
        record = records.invocation_requested(
            execution_id,
            now_ms(),
            workflow=wf.name,
            input=to_json(payload, f"input of execution {execution_id}"),
            queue=request,
            traceparent=traceparent,
        )
        return self._append(names.invocation_routing_key(execution_id, None, request), record)

    def _append(self, routing_key: str, record: records.Record):
        return self.log.append(self.log.partition_for(routing_key), routing_key.encode(), self.codec.encode(record))

    async def dead_letter(self, entry: Entry, reason: str) -> None:
        """Publish ``entry`` (an event, or a journal record: topic "") to the namespace's
        dead-letter topic, with the reason."""
        topic = entry.topic or names.journal_topic(self.log.namespace)
        log.warning("dead-lettering %s[%d]@%d: %s", topic, entry.partition, entry.offset, reason)
        kept = entry.value[:LETTER_VALUE_BYTES]  # a letter must fit the topic's default limit
        try:
            value = kept.decode()
            encoding = "utf-8"
        except UnicodeDecodeError:
            value, encoding = base64.b64encode(kept).decode(), "base64"
        letter = {
            "reason": reason,
            "topic": topic,
            "partition": entry.partition,
            "offset": entry.offset,
            "key": entry.key.decode(errors="replace") if entry.key else None,
            "value": value,
            "value_encoding": encoding,
            "value_truncated": len(kept) < len(entry.value),
            "timestamp": entry.timestamp,
        }
        await self.log.publish(names.dead_letter_topic(self.log.namespace), entry.key or None, orjson.dumps(letter))
