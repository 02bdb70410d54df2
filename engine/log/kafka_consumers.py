"""The Kafka log's consumers: a worker's group membership, and group-less readers.

librdkafka calls are blocking, so each consumer runs on its own thread (or in
``asyncio.to_thread``) and hands batches to the event loop with ``call_soon_threadsafe``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition

from .. import names
from ..wire.trace_context import HEADER as TRACEPARENT
from .base import Entry, PartitionListener, Reader, Subscription, TopicEntry

log = logging.getLogger(__name__)

# A consumer turn later than this after the previous one means the process was paused.
# Below the shortest pause that can expire a session (the session timeout less a heartbeat).
PAUSE_SUSPECT_S = 0.75


def watermark(consumer: Consumer, topic: str, partition: int, attempts: int = 100) -> int:
    """High watermark of a partition; retries while a new topic's leaders settle."""
    for attempt in range(attempts):
        try:
            return consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10, cached=False)[1]
        except KafkaException as exc:
            error = exc.args[0]
            if attempt == attempts - 1 or not (
                error.retriable()
                or error.code()
                in (
                    KafkaError.NOT_LEADER_FOR_PARTITION,
                    KafkaError.LEADER_NOT_AVAILABLE,
                    KafkaError.UNKNOWN_TOPIC_OR_PART,
                )
            ):
                raise
            threading.Event().wait(0.1)
    raise AssertionError("unreachable")


def consume_available(consumer: Consumer, timeout_s: float) -> list:
    """Wait up to ``timeout_s`` for one message, then take whatever else is already here.

    ``consume(n, timeout)`` waits the whole timeout unless ``n`` messages arrive, which
    would add the timeout to every hop of a step; ``poll`` returns on the first message.
    """
    first = consumer.poll(timeout_s)
    if first is None:
        return []
    return [first, *consumer.consume(999, 0)]


def to_entry(msg, topic: str = "") -> Entry:
    return Entry(msg.partition(), msg.offset(), msg.key() or b"", msg.value() or b"", msg.timestamp()[1], topic)


def to_topic_entry(msg, topic: str) -> Entry:
    """A named topic's record; one with a ``traceparent`` header keeps it (``TopicEntry``)."""
    headers = msg.headers()
    if headers:
        for name, value in headers:
            if name == TRACEPARENT and value:
                return TopicEntry(msg.partition(), msg.offset(), msg.key() or b"", msg.value() or b"",
                                  msg.timestamp()[1], topic, value.decode("ascii", errors="replace"))  # fmt: skip
    return to_entry(msg, topic)


class KafkaSubscription(Subscription):
    """A member of the worker group. Its thread polls; rebalances call back into the loop."""

    def __init__(self, kafka_log, listener: PartitionListener, member: str | None = None):
        self._log = kafka_log
        self._listener = listener
        self._loop = asyncio.get_running_loop()
        self._member = member
        self._consumer: Consumer | None = None  # made on its thread: joining asks the brokers first
        self._progress: dict[int, int] = {}  # offsets to commit, handed from the loop to the thread
        self._progress_lock = threading.Lock()
        self._stop = threading.Event()
        self._owned: set[int] = set()
        self.alive_at = time.monotonic()
        self._last_iteration = time.monotonic()
        self._in_doubt = False  # a pause was seen: membership unconfirmed until a commit succeeds
        self._alive_waiters: list[asyncio.Future] = []
        self._reported: dict[int, int] = {}  # the last progress committed, per partition
        self._stall = float(os.environ.get("LOGLOOM_FAILPOINT_STALL_AFTER_PAUSE_S", "0"))
        self._last_poll = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="kafka-worker-consumer", daemon=True)
        self._thread.start()

    def _call(self, coro, in_group: bool = True):
        """Run a rebalance callback on the loop and wait for it. In an assignment or a
        revocation the member is in its group's protocol, so runs need not doubt it
        (``alive_at``); when its partitions were lost it is not, and they must."""
        if in_group:
            self.alive_at = float("inf")
        try:
            return asyncio.run_coroutine_threadsafe(coro, self._loop).result()
        finally:
            self._last_iteration = time.monotonic()
            if in_group:
                self.alive_at = self._last_iteration

    # -- membership: is this process still in its group? ---------------------------------

    async def until_alive(self) -> None:
        if time.monotonic() - self.alive_at <= PAUSE_SUSPECT_S:
            return
        waiter = self._loop.create_future()
        self._alive_waiters.append(waiter)
        await waiter

    def _wake_alive_waiters(self) -> None:
        waiters, self._alive_waiters = self._alive_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _check_membership(self, consumer: Consumer) -> None:
        """On the consumer's thread, each turn: a turn that came long after the last means
        the process was paused (SIGSTOP, a VM freeze), perhaps past its session timeout.
        Until a commit succeeds, which the coordinator refuses from a member it has expired,
        ``alive_at`` stays stale and the worker starts no step body; a refused one is
        followed by the lost partitions' callback. A turn that is on time refreshes it."""
        now = time.monotonic()
        if now - self._last_iteration > PAUSE_SUSPECT_S:
            self._in_doubt = True
            log.warning("the consumer was paused for %.1f s: confirming group membership", now - self._last_iteration)
        self._last_iteration = now
        if self._in_doubt:
            if not self._confirm(consumer):
                return
            self._in_doubt = False
        self.alive_at = now
        if self._alive_waiters:
            self._loop.call_soon_threadsafe(self._wake_alive_waiters)

    def _confirm(self, consumer: Consumer) -> bool:
        """A synchronous commit of the owned partitions' last progress: accepted only from a
        current member of the group's current generation."""
        owned = [TopicPartition(self._log.topic, p, self._reported[p]) for p in self._owned if p in self._reported]
        if not owned:
            return True  # nothing folded yet that a step could have followed
        try:
            consumer.commit(offsets=owned, asynchronous=False)
            return True
        except KafkaException as exc:
            log.warning("group membership not confirmed (%s): the partitions are being taken", exc.args[0].str())
            return False

    def _on_assign(self, consumer: Consumer, assigned: list[TopicPartition]) -> None:
        partitions = [tp.partition for tp in assigned]
        ends = {p: watermark(consumer, self._log.topic, p) for p in partitions}
        starts = self._call(self._listener.assigned(ends)) if partitions else {}
        consumer.incremental_assign([TopicPartition(self._log.topic, p, starts[p]) for p in partitions])
        self._owned.update(partitions)
        self.joined = True
        log.info("assigned partitions %s", sorted(partitions))

    def _stall_after_pause(self) -> None:
        """Failpoint for the fencing tests (``LOGLOOM_FAILPOINT_STALL_AFTER_PAUSE_S``).

        After the process was paused (SIGSTOP), this consumer stalls, delivering nothing
        and noticing no revocation, while the rest of the worker runs on and writes: a
        zombie slow to learn that it lost its partitions.
        """
        now = time.monotonic()
        if self._stall and now - self._last_poll > 2.0:
            log.warning("failpoint: paused for %.1fs; the consumer stalls %.1fs", now - self._last_poll, self._stall)
            threading.Event().wait(self._stall)
        self._last_poll = time.monotonic()

    def _on_revoke(self, consumer: Consumer, revoked: list[TopicPartition], lost: bool = False) -> None:
        self._stall_after_pause()  # revocations are noticed inside poll(), before it returns
        partitions = [tp.partition for tp in revoked]
        if partitions:
            self._call(self._listener.revoked(partitions, lost), in_group=not lost)
            consumer.incremental_unassign(revoked)
            self._owned.difference_update(partitions)
        log.info("revoked partitions %s", sorted(partitions))

    def _make_consumer(self) -> Consumer:
        session_ms = self._log.group_session_timeout_ms()
        config = self._log.consumer_config(
            **{
                "group.id": names.worker_group(self._log.namespace),
                "partition.assignment.strategy": "cooperative-sticky",
                "session.timeout.ms": session_ms,
                "heartbeat.interval.ms": max(100, session_ms // 5),
            }
        )
        if self._log.instance_id:
            config["group.instance.id"] = self._log.instance_id
        if self._member:
            config["client.id"] = self._member  # so the group's description names the worker
        return Consumer(config)

    def _on_lost(self, consumer: Consumer, lost: list[TopicPartition]) -> None:
        self._on_revoke(consumer, lost, lost=True)

    def _run(self) -> None:
        consumer = self._consumer = self._make_consumer()
        consumer.subscribe(
            [self._log.topic], on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )
        try:
            while not self._stop.is_set():
                messages = consume_available(consumer, 0.1)
                self._stall_after_pause()
                self._check_membership(consumer)
                entries = []
                for msg in messages:
                    if msg.error() is None:
                        entries.append(to_entry(msg))
                    else:
                        log.warning("consumer error: %s", msg.error())
                if entries and not self._stop.is_set():
                    self._loop.call_soon_threadsafe(self._listener.records, entries)
                self._commit_progress(consumer)
        finally:
            try:
                consumer.close()  # leaves the group; revoke callbacks run here
            except Exception as exc:  # the loop may already be gone
                log.debug("consumer close: %s", exc)

    def report_progress(self, offsets: dict[int, int]) -> None:
        with self._progress_lock:
            self._progress.update(offsets)

    def _commit_progress(self, consumer: Consumer) -> None:
        """On the consumer's thread: commit reported progress for partitions still owned."""
        with self._progress_lock:
            progress, self._progress = self._progress, {}
        owned = [TopicPartition(self._log.topic, p, o) for p, o in progress.items() if p in self._owned]
        self._reported.update(progress)
        if owned:
            try:
                consumer.commit(offsets=owned, asynchronous=True)
            except KafkaException as exc:  # monitoring only: the next report tries again
                log.debug("progress commit: %s", exc)

    async def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            await asyncio.sleep(0.01)  # keep the loop free for the revoke callback


class KafkaReader(Reader):
    """A group-less consumer with explicit assignment, for clients and history."""

    def __init__(self, kafka_log, topic: str):
        self._log = kafka_log
        self._topic = topic
        self._entry_topic = "" if topic == kafka_log.topic else topic
        self._consumer = Consumer(
            kafka_log.consumer_config(
                **{
                    "group.id": names.reader_group(kafka_log.namespace, uuid.uuid4().hex),
                    "fetch.wait.max.ms": 100,
                }
            )
        )
        self._positions: dict[int, int] = {}
        self._changed = False
        self._lock = threading.Lock()  # guards the positions only, never a blocking call

    def assign(self, partition: int, offset: int) -> None:
        with self._lock:
            self._positions[partition] = offset
            self._changed = True

    def _consume(self, timeout_s: float) -> list[Entry]:
        with self._lock:
            if self._changed:
                self._consumer.assign([TopicPartition(self._topic, p, o) for p, o in self._positions.items()])
                self._changed = False
        topic = self._entry_topic
        out = [
            to_topic_entry(msg, topic) if topic else to_entry(msg)
            for msg in consume_available(self._consumer, timeout_s)
            if msg.error() is None
        ]
        with self._lock:
            for entry in out:
                self._positions[entry.partition] = entry.offset + 1
        return out

    async def poll(self, timeout_s: float) -> list[Entry]:
        if not self._positions:
            await asyncio.sleep(timeout_s)
            return []
        return await asyncio.to_thread(self._consume, timeout_s)

    async def close(self) -> None:
        await asyncio.to_thread(self._consumer.close)
