"""KafkaLog: the production log on a Kafka cluster (confluent-kafka).

* The journal is the topic ``<namespace>.journal``, created by the engine with a fixed
  partition count and infinite retention (it is the source of truth).
* Every librdkafka client logs through the Python logger ``engine.librdkafka``
  (``LIBRDKAFKA_LOG``), so an application (the CLI without ``-v``) can silence its
  connection-retry chatter.
* ``start`` reaches the cluster within ``connect_timeout_s`` or raises
  ``LogUnavailableError`` naming the address; with ``create=False`` a missing journal is a
  ``LogNotFoundError`` instead of a new topic (commands that only read).
* Appends go through one idempotent producer with ``acks=all``. The appends of one turn
  of the event loop are produced together at its end, one ``produce_batch`` per
  partition; further batching comes from ``linger.ms`` and librdkafka's in-flight
  pipelining. A delivery report completes the append's future on the event loop.
* Workers join the group ``<namespace>.workers`` with cooperative-sticky assignment.
  Start offsets come from the worker's local stores, never from committed group offsets.
* librdkafka calls are blocking, so each consumer runs on its own thread and hands
  batches to the event loop with ``call_soon_threadsafe`` (``kafka_consumers.py``).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from functools import partial
from typing import Any

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from .. import names
from ..errors import LogloomError, LogNotFoundError, LogUnavailableError
from .base import Log, PartitionListener, Reader, Subscription
from .kafka_consumers import KafkaReader, KafkaSubscription, watermark

log = logging.getLogger(__name__)
LIBRDKAFKA_LOG = logging.getLogger("engine.librdkafka")  # librdkafka's own log lines
CONNECT_TIMEOUT_S = 5.0
# A worker that stops heartbeating loses its partitions after this long: a dead worker's
# runs resume elsewhere within it and a rebalance (docs/operations.md, "Fail-over"). The
# brokers must allow it: their group.min.session.timeout.ms (default 6000) caps it from below.
SESSION_TIMEOUT_MS = 1_500
# What an admin client needs of the options given for the producer: how to connect.
_CONNECTION_OPTIONS = ("security.", "sasl.", "ssl.", "client.dns.lookup", "socket.")

PRODUCER_DEFAULTS = {
    "enable.idempotence": True,
    "acks": "all",
    "linger.ms": 0,
    "compression.type": "lz4",
    "partitioner": "consistent",
    "message.max.bytes": names.MAX_RECORD_BYTES,
    # librdkafka's buffer of records not yet acknowledged: 64 MB, not its default of 1 GB.
    # When it is full, appends wait for acknowledgements (``_produce_queued``).
    "queue.buffering.max.kbytes": 65_536,
}
# What makes an acknowledged append durable and never duplicated: not open to overrides.
PRODUCER_FIXED = {
    "acks": ("all", "-1", -1),
    "request.required.acks": ("all", "-1", -1),
    "enable.idempotence": (True, "true"),
}
CONSUMER_DEFAULTS = {
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "fetch.wait.max.ms": 50,
    "enable.partition.eof": False,
}


class KafkaLog(Log):
    def __init__(
        self,
        bootstrap: str,
        namespace: str = "logloom",
        partitions: int = 8,
        *,
        replication_factor: int = 1,
        session_timeout_ms: int = SESSION_TIMEOUT_MS,
        instance_id: str | None = None,
        producer_config: dict[str, Any] | None = None,
        consumer_config: dict[str, Any] | None = None,
        connect_timeout_s: float = CONNECT_TIMEOUT_S,
        create: bool = True,
    ):
        """``create=False``: the journal must exist already (for commands that only read)."""
        self.bootstrap = bootstrap
        self.connect_timeout_s = connect_timeout_s
        self.create = create
        self.namespace = namespace
        self.num_partitions = partitions
        self.topic = names.journal_topic(namespace)
        self.replication_factor = replication_factor
        self.session_timeout_ms = session_timeout_ms
        self.instance_id = instance_id
        self.cluster_id: str | None = None  # the cluster's id, once started
        producer_config = producer_config or {}
        for option, allowed in PRODUCER_FIXED.items():
            if producer_config.get(option, allowed[0]) not in allowed:
                raise LogloomError(
                    f"producer option {option}={producer_config[option]!r} is not allowed: "
                    f"an append is acknowledged only once it is durable ({option}={allowed[0]})"
                )
        self._producer_config = {**PRODUCER_DEFAULTS, **producer_config}
        self._consumer_config = {**CONSUMER_DEFAULTS, **(consumer_config or {})}
        self._producer: Producer | None = None
        self._poller: threading.Thread | None = None
        self._running = False
        self._meta: Consumer | None = None
        self._meta_lock = threading.Lock()
        self._topic_partitions: dict[str, int] = {}
        self._groups: dict[str, Consumer] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reports: list[tuple[asyncio.Future, object]] = []  # delivery outcomes not yet settled
        self._reports_lock = threading.Lock()
        self._reports_scheduled = False
        self._queued: dict[tuple, tuple[list[dict], list[asyncio.Future]]] = {}  # this loop turn's records
        self._produce_scheduled = False

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(self._ensure_topic)
        self._producer = Producer(self.client_config(**self._producer_config))
        self._running = True
        self._poller = threading.Thread(target=self._poll_producer, name="kafka-producer-poll", daemon=True)
        self._poller.start()

    def client_config(self, **extra) -> dict:
        """Options every librdkafka client of this log starts from: the bootstrap, and how
        to connect (TLS, SASL) as given for the producer, so admin clients connect too."""
        connection = {k: v for k, v in self._producer_config.items() if k.startswith(_CONNECTION_OPTIONS)}
        return {"bootstrap.servers": self.bootstrap, "logger": LIBRDKAFKA_LOG, **connection, **extra}

    def group_session_timeout_ms(self) -> int:
        """The session timeout a worker joins with (blocking): the one configured, unless
        the brokers' ``group.min.session.timeout.ms`` is higher, which they would refuse."""
        try:
            admin = AdminClient(self.client_config())
            broker = next(iter(admin.list_topics(timeout=10).brokers))
            resource = ConfigResource(ResourceType.BROKER, str(broker))
            configs = admin.describe_configs([resource])[resource].result(timeout=10)
            minimum = int(configs["group.min.session.timeout.ms"].value)
        except Exception as exc:  # not allowed to describe the brokers: join with the configured one
            log.debug("cannot read group.min.session.timeout.ms from the brokers: %s", exc)
            return self.session_timeout_ms
        if minimum > self.session_timeout_ms:
            log.warning(
                "the brokers' group.min.session.timeout.ms is %d ms, above the session timeout of %d ms: "
                "joining with %d ms, so a dead worker's partitions move only after that long "
                "(set group.min.session.timeout.ms=1000 on the brokers; docs/operations.md)",
                minimum, self.session_timeout_ms, minimum,
            )  # fmt: skip
            return minimum
        return self.session_timeout_ms

    def _ensure_topic(self) -> None:
        self.num_partitions = self._create_topic(
            self.topic, self.num_partitions, names.JOURNAL_TOPIC_CONFIG, create=self.create
        )

    def _create_topic(self, topic: str, partitions: int, config: dict | None = None, create: bool = True) -> int:
        """Create ``topic`` unless it exists; wait for its leaders; return its partition count."""
        admin = AdminClient(self.client_config())
        try:
            metadata = admin.list_topics(timeout=self.connect_timeout_s)
        except KafkaException as exc:
            raise LogUnavailableError(
                f"cannot reach Kafka at {self.bootstrap} within {self.connect_timeout_s:g} s ({exc.args[0].str()})"
            ) from None
        existing = metadata.topics
        self.cluster_id = metadata.cluster_id  # names what a client's store was folded from
        if topic not in existing and not create:
            raise LogNotFoundError(
                f"no journal {topic!r} on Kafka at {self.bootstrap}: is the namespace right? (a worker creates it)"
            )
        if topic not in existing:
            new = NewTopic(
                topic, num_partitions=partitions, replication_factor=self.replication_factor, config=dict(config or {})
            )
            try:
                admin.create_topics([new])[topic].result(timeout=30)
            except KafkaException as exc:
                if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise LogloomError(f"cannot create topic {topic}: {exc}") from exc
        for _ in range(300):  # wait until every partition has a leader
            described = admin.list_topics(topic, timeout=10).topics.get(topic)
            if (
                described is not None
                and described.error is None
                and described.partitions
                and all(p.leader >= 0 for p in described.partitions.values())
            ):
                self._wait_writable(topic, len(described.partitions))
                return len(described.partitions)  # fixed at creation
            threading.Event().wait(0.1)
        raise LogloomError(f"topic {topic} has no leaders after 30 s")

    def _wait_writable(self, topic: str, partitions: int) -> None:
        """Wait until each partition's leader answers for it, not only the metadata.

        Metadata names a new partition's leader before that broker has taken the
        partition on. A first batch sent then fails with "not leader"; if a second batch
        is already in flight and lands once the broker is ready, the broker accepts it (a
        producer id new to a partition may start at any sequence) and librdkafka counts
        the first as "implicitly acked by subsequent batch success". The first batch is
        lost, its delivery reported as a success without an offset. A ``ListOffsets``
        answer from the leader (``watermark``, which retries "not leader") means the
        broker leads the partition, so produce requests will not meet that error.
        """
        with self._meta_lock:
            consumer = self._metadata_consumer()
            for partition in range(partitions):
                watermark(consumer, topic, partition)

    async def close(self) -> None:
        if self._producer is not None:
            self._produce_queued()
            await asyncio.to_thread(self._producer.flush, 30)
            self._running = False
            self._poller.join()
            self._producer = None
        if self._meta is not None:
            self._meta.close()
            self._meta = None
        for consumer in self._groups.values():
            consumer.close()
        self._groups = {}

    def _poll_producer(self) -> None:
        while self._running:
            self._producer.poll(0.05)

    # -- writing ---------------------------------------------------------------------

    def append(self, partition: int, key: bytes, value: bytes) -> asyncio.Future[int]:
        if self._producer is None:
            raise LogloomError("KafkaLog is not started")
        return self._enqueue(self.topic, partition, key, value)

    def _enqueue(
        self, topic: str, partition: int | None, key: bytes | None, value: bytes, with_partition: bool = False
    ) -> asyncio.Future:
        """Queue a record for the end of this turn of the event loop (``_produce_queued``);
        its future gets the offset, or (partition, offset) ``with_partition``."""
        future = self._loop.create_future()
        queued = self._queued.get((topic, partition))
        if queued is None:
            queued = self._queued[(topic, partition)] = ([], [])
            if not self._produce_scheduled:
                self._produce_scheduled = True
                self._loop.call_soon(self._produce_queued)
        queued[0].append({"key": key, "value": value, "callback": partial(self._delivered, future, with_partition)})
        queued[1].append(future)
        return future

    def _produce_queued(self) -> None:
        """Hand the turn's records to librdkafka: one call, one lock and one wake-up of its
        sender per partition, instead of one per record. A ``produce`` per record blocked
        the loop for tens of microseconds each while librdkafka's threads held its locks
        (docs/benchmarks.md, session 7). Order within a partition is the order of append.
        A ``None`` partition is left to the partitioner (``publish``)."""
        self._produce_scheduled = False
        queued, self._queued = self._queued, {}
        for (topic, partition), (messages, futures) in queued.items():
            where = {} if partition is None else {"partition": partition}
            while messages:
                try:
                    self._producer.produce_batch(topic, messages, **where)
                except Exception as exc:  # not expected: fail these records rather than leave them hanging
                    for future in futures:
                        _fail(future, LogloomError(f"producing to {topic} failed: {exc}"))
                    break
                retry, retry_futures = [], []
                for message, future in zip(messages, futures):
                    error = message.pop("_error", None)
                    if error is None:
                        continue
                    if error.code() == KafkaError._QUEUE_FULL:
                        retry.append(message)
                        retry_futures.append(future)
                    else:
                        _fail(future, LogloomError(f"producing to {topic} failed: {error}"))
                if retry:  # librdkafka's queue is full: let deliveries drain, then the rest
                    self._producer.poll(0.01)
                messages, futures = retry, retry_futures

    def appends_in_flight(self) -> int:
        """Records queued for this loop turn, plus those librdkafka holds unacknowledged."""
        queued = sum(len(messages) for messages, _ in self._queued.values())
        return queued + (0 if self._producer is None else len(self._producer))

    def _delivered(self, future: asyncio.Future, with_partition: bool, err, msg) -> None:
        """From the producer's poll thread: an offset, (partition, offset), or the error."""
        if err is not None:
            self._report(future, LogloomError(f"producing to {msg.topic()} failed: {err}"))
        else:
            self._report(future, (msg.partition(), msg.offset()) if with_partition else msg.offset())

    def _report(self, future: asyncio.Future, outcome) -> None:
        """From the producer's poll thread: queue an append's outcome for the loop.

        One wake-up of the loop settles every report queued until it runs, instead of one
        ``call_soon_threadsafe`` (a self-pipe write and a callback) per record.
        """
        with self._reports_lock:
            self._reports.append((future, outcome))
            if self._reports_scheduled:
                return
            self._reports_scheduled = True
        self._loop.call_soon_threadsafe(self._settle_reports)

    def _settle_reports(self) -> None:
        with self._reports_lock:
            reports, self._reports = self._reports, []
            self._reports_scheduled = False
        for future, outcome in reports:
            if isinstance(outcome, BaseException):
                _fail(future, outcome)
            else:
                _resolve(future, outcome)

    # -- reading ---------------------------------------------------------------------

    def _metadata_consumer(self) -> Consumer:
        if self._meta is None:
            self._meta = Consumer(
                self.client_config(
                    **{"group.id": names.metadata_group(self.namespace, uuid.uuid4().hex), "enable.auto.commit": False}
                )
            )
        return self._meta

    def _high_watermark(self, partition: int) -> int:
        with self._meta_lock:
            return watermark(self._metadata_consumer(), self.topic, partition)

    async def end_offset(self, partition: int) -> int:
        return await asyncio.to_thread(self._high_watermark, partition)

    def subscribe(self, listener: PartitionListener, member: str | None = None) -> Subscription:
        return KafkaSubscription(self, listener, member)

    def reader(self) -> Reader:
        return KafkaReader(self, self.topic)

    # -- named topics: domain events -------------------------------------------------

    async def ensure_topic(self, topic: str, partitions: int = 1) -> int:
        if topic not in self._topic_partitions:
            self._topic_partitions[topic] = await asyncio.to_thread(self._create_topic, topic, partitions)
        return self._topic_partitions[topic]

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> tuple[int, int]:
        """Produce to a domain topic with librdkafka's partitioner (creating the topic if needed)."""
        await self.ensure_topic(topic)
        return await self._enqueue(topic, None, key, value, with_partition=True)

    def topic_reader(self, topic: str) -> Reader:
        return KafkaReader(self, topic)

    async def topic_partitions(self, topic: str) -> int:
        def lookup() -> int:
            described = AdminClient(self.client_config()).list_topics(topic, timeout=10).topics.get(topic)
            return len(described.partitions) if described is not None and described.error is None else 0

        return await asyncio.to_thread(lookup)

    def _group_consumer(self, group: str) -> Consumer:
        if group not in self._groups:
            self._groups[group] = Consumer(self.client_config(**{"group.id": group, "enable.auto.commit": False}))
        return self._groups[group]

    async def offset_for_time(self, topic: str, partition: int, timestamp: int) -> int:
        def lookup() -> int:
            with self._meta_lock:
                consumer = self._metadata_consumer()
                # The end is read first: a record appended between the two lookups is then
                # read, not skipped (asked in the other order, "none at or after timestamp"
                # followed by a later end would skip it).
                end = consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=10, cached=False)[1]
                found = consumer.offsets_for_times([TopicPartition(topic, partition, timestamp)], timeout=10)[0]
                if found.error is not None:
                    raise KafkaException(found.error)
                return found.offset if found.offset >= 0 else end

        return await asyncio.to_thread(lookup)

    async def committed(self, group: str, topic: str) -> dict[int, int]:
        partitions = await self.topic_partitions(topic)

        def lookup() -> dict[int, int]:
            tps = self._group_consumer(group).committed(
                [TopicPartition(topic, p) for p in range(partitions)], timeout=10
            )
            return {tp.partition: tp.offset for tp in tps if tp.offset >= 0}

        return await asyncio.to_thread(lookup)

    async def commit(self, group: str, topic: str, offsets: dict[int, int]) -> None:
        tps = [TopicPartition(topic, p, o) for p, o in offsets.items()]
        await asyncio.to_thread(self._group_consumer(group).commit, offsets=tps, asynchronous=False)

    async def members(self) -> list[str] | None:
        """The worker group's members now (their client.id: the worker ids); None if the
        cluster does not say in time."""
        group = names.worker_group(self.namespace)

        def describe() -> list[str] | None:
            try:
                admin = AdminClient(self.client_config())  # held: a collected client never answers
                future = admin.describe_consumer_groups([group], request_timeout=self.connect_timeout_s)[group]
                return sorted(m.client_id for m in future.result(timeout=self.connect_timeout_s + 1).members)
            except Exception:  # an unknown group, a timeout: not known
                return None

        return await asyncio.to_thread(describe)

    def consumer_config(self, **extra) -> dict:
        return self.client_config(**{**self._consumer_config, **extra})


def _resolve(future: asyncio.Future, value) -> None:
    if not future.done():
        future.set_result(value)


def _fail(future: asyncio.Future, exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)
