"""EmbeddedLog: the zero-setup log. One process, persistent on local disk (rocksdict).

Same partition and offset semantics as Kafka: records are keyed, each partition is an
offset-ordered sequence starting at 0, and an append is acknowledged with its offset.

Durability: appends are written with ``sync=True`` (fsync of RocksDB's WAL) before they
are acknowledged or become visible to readers. Concurrent appends share one sync
(group commit):

1. ``append`` assigns the next offset of the partition and queues the record.
2. The committer task takes everything queued, writes it as one batch, and syncs.
3. Only then are the offsets made visible to readers and the append futures resolved.

Besides the journal it holds named topics for domain events (``publish``,
``topic_reader``) and the committed offsets of their consumer groups, so the same router
code runs on both logs.

Layout of the RocksDB at ``<data-dir>/<namespace>/log``::

    b"m/partitions"                                -> journal partition count (fixed)
    b"m/topic/" + name                             -> a named topic's partition count
    b"c/" + group + 0 + topic + 0 + partition(>I)  -> committed offset (>q)
    b"r" + partition(>I) + offset(>q)              -> journal record: timestamp(>q) keylen(>H) key value
    b"T" + topic + 0 + partition(>I) + offset(>q)  -> topic record, same value layout
"""

from __future__ import annotations

import asyncio
import logging
import os
import struct

from rocksdict import AccessType, BlockBasedOptions, Cache, Options, Rdict, WriteBatch, WriteOptions

from .. import names
from ..clock import now_ms
from ..errors import LogInUseError, LogloomError, LogNotFoundError
from .base import Entry, Log, PartitionListener, Reader, Subscription, partition_for

log = logging.getLogger(__name__)

_HEAD = struct.Struct(">qH")
_META_PARTITIONS = b"m/partitions"


MB = 1024 * 1024
LOG_CACHE_MB = 16  # the log's block cache: recent records are read from memtables and this
LOG_WRITE_BUFFER_MB = 16  # one memtable; RocksDB's default, 64 MB, held 128 MB of records in memory


def _bounded_options() -> Options:
    """The log's RocksDB, in a fixed memory budget (a worker's stores have their own,
    ``store.memory``): a 16 MB block cache holding index and filter blocks too, and at most
    two 16 MB memtables."""
    table = BlockBasedOptions()
    table.set_block_cache(Cache(LOG_CACHE_MB * MB))
    table.set_cache_index_and_filter_blocks(True)
    table.set_pin_top_level_index_and_filter(True)
    options = Options(raw_mode=True)
    options.set_block_based_table_factory(table)
    options.set_write_buffer_size(LOG_WRITE_BUFFER_MB * MB)
    options.set_max_write_buffer_number(2)
    return options


JOURNAL = ""  # the stream name of the journal; named topics use their own


def _prefix(topic: str, partition: int) -> bytes:
    if topic == JOURNAL:
        return b"r" + struct.pack(">I", partition)
    return b"T" + topic.encode() + b"\x00" + struct.pack(">I", partition)


def _key(partition: int, offset: int, topic: str = JOURNAL) -> bytes:
    return _prefix(topic, partition) + struct.pack(">q", offset)


class EmbeddedLog(Log):
    def __init__(
        self,
        data_dir: str | os.PathLike,
        namespace: str = "logloom",
        partitions: int = 4,
        *,
        read_only: bool = False,
        create: bool = True,
    ):
        self.namespace = namespace
        self.num_partitions = partitions
        self.path = names.embedded_log_path(data_dir, namespace)
        self.read_only = read_only
        self.create = create  # False: the log must exist (commands that only read or append never make one)
        self._db: Rdict | None = None
        self._next: dict[tuple[str, int], int] = {}  # next offset to assign, per stream
        self._visible: dict[tuple[str, int], int] = {}  # offsets below this are durable and readable
        self._topics: dict[str, int] = {}  # named topic -> partitions
        self._pending: list[tuple] = []
        self._wake: asyncio.Event | None = None
        self._committer: asyncio.Task | None = None
        self._watchers: set[Wakeup] = set()  # one per reader: set when records became readable
        self._subscribed = False
        self._member: str | None = None
        self._api = None
        self._write_opts = WriteOptions()
        self._write_opts.sync = True

    # -- lifecycle -------------------------------------------------------------------

    async def start(self) -> None:
        options = _bounded_options()
        if not self.path.exists() and (self.read_only or not self.create):
            raise LogNotFoundError(
                f"no embedded log at {self.path}: is --data-dir right? (a worker creates it: "
                f"logloom worker APP --data-dir {self.path.parent.parent})"
            )
        if self.read_only:
            self._db = Rdict(str(self.path), options, access_type=AccessType.read_only())
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            options.create_if_missing(True)
            try:
                self._db = Rdict(str(self.path), options)
            except Exception as exc:
                if "lock" in str(exc).lower():
                    raise LogInUseError(
                        f"the embedded log at {self.path} is in use by another process "
                        f"(one process owns an embedded log; use Kafka to run several workers)"
                    ) from exc
                raise
        stored = self._db.get(_META_PARTITIONS)
        if stored is None:
            if not self.read_only:
                self._db.put(_META_PARTITIONS, str(self.num_partitions).encode())
        else:
            self.num_partitions = int(stored)  # fixed at creation
        for p in range(self.num_partitions):
            self._open_stream(JOURNAL, p)
        it = self._db.iter()
        it.seek(b"m/topic/")
        while it.valid() and it.key().startswith(b"m/topic/"):
            self._topics[it.key()[8:].decode()] = int(it.value())
            it.next()
        for topic, partitions in self._topics.items():
            for p in range(partitions):
                self._open_stream(topic, p)
        self._wake = asyncio.Event()
        if not self.read_only:
            self._committer = asyncio.create_task(self._commit_loop(), name="embedded-log-commit")
            await self._serve_local_api()

    async def _serve_local_api(self) -> None:
        """Let other processes on this machine append and read (see ``local_api.py``)."""
        from .local_api import LocalApiServer, socket_path

        server = LocalApiServer(self, socket_path(self.path))
        try:
            await server.start()
            self._api = server
        except OSError as exc:
            log.warning("embedded log: no local API for other processes (%s)", exc)

    async def close(self) -> None:
        if self._api is not None:
            await self._api.close()
            self._api = None
        if self._committer is not None:
            await self._drain()
            self._committer.cancel()
            try:
                await self._committer
            except asyncio.CancelledError:
                pass
            self._committer = None
        if self._db is not None:
            self._db.close()
            self._db = None

    async def _drain(self) -> None:
        while self._pending:
            await asyncio.sleep(0.001)

    def _open_stream(self, topic: str, partition: int) -> None:
        prefix = _prefix(topic, partition)
        it = self._db.iter()
        it.seek_for_prev(prefix + struct.pack(">q", 2**62))
        last = -1
        if it.valid() and it.key()[: len(prefix)] == prefix:
            last = struct.unpack(">q", it.key()[len(prefix) :])[0]
        self._next[(topic, partition)] = self._visible[(topic, partition)] = last + 1

    # -- writing ---------------------------------------------------------------------

    def append(self, partition: int, key: bytes, value: bytes, topic: str = JOURNAL) -> asyncio.Future[int]:
        if self.read_only or self._db is None:
            raise LogloomError("embedded log is not open for writing")
        if (topic, partition) not in self._next:
            raise LogloomError(f"no partition {partition} in {topic or 'the journal'}")
        future = asyncio.get_running_loop().create_future()
        offset = self._next[(topic, partition)]
        self._next[(topic, partition)] = offset + 1
        self._pending.append((topic, partition, offset, key, value, future))
        self._wake.set()
        return future

    def appends_in_flight(self) -> int:
        """Appends waiting for the next write batch (bounded by the callers: runs in memory,
        the router's batches in flight, a client's gathered invocations)."""
        return len(self._pending)

    async def _commit_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._pending = self._pending, []
            if not batch:
                continue
            now = now_ms()
            wb = WriteBatch(raw_mode=True)
            for topic, partition, offset, key, value, _ in batch:
                wb.put(_key(partition, offset, topic), _HEAD.pack(now, len(key)) + key + value)
            try:
                await asyncio.to_thread(self._db.write, wb, self._write_opts)
            except Exception as exc:  # the disk failed: nothing in this batch is durable
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(LogloomError(f"embedded log write failed: {exc}"))
                raise
            for topic, partition, offset, _, _, future in batch:
                self._visible[(topic, partition)] = offset + 1
                if not future.done():
                    future.set_result(offset)
            for watcher in self._watchers:
                watcher.set()

    # -- reading ---------------------------------------------------------------------

    async def end_offset(self, partition: int, topic: str = JOURNAL) -> int:
        return self._visible[(topic, partition)]

    def read(self, partition: int, start: int, limit: int = 1000, topic: str = JOURNAL) -> list[Entry]:
        """Durable records of a partition from ``start``, at most ``limit`` of them."""
        stop = min(self._visible.get((topic, partition), 0), start + limit)
        if start >= stop:
            return []
        out = []
        it = self._db.iter()
        it.seek(_key(partition, start, topic))
        offset = start
        while offset < stop and it.valid():
            raw = it.value()
            ts, key_len = _HEAD.unpack_from(raw)
            key_end = _HEAD.size + key_len
            out.append(Entry(partition, offset, raw[_HEAD.size : key_end], raw[key_end:], ts, topic))
            offset += 1
            it.next()
        return out

    # -- named topics: domain events ---------------------------------------------------

    async def ensure_topic(self, topic: str, partitions: int = 1) -> int:
        if topic not in self._topics:
            if self.read_only:
                raise LogloomError(f"no topic {topic!r}")
            self._db.put(b"m/topic/" + topic.encode(), str(partitions).encode())
            self._topics[topic] = partitions
            for p in range(partitions):
                self._open_stream(topic, p)
        return self._topics[topic]

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> tuple[int, int]:
        partitions = await self.ensure_topic(topic)
        partition = 0 if key is None else partition_for(key, partitions)
        return partition, await self.append(partition, key or b"", value, topic)

    def topic_reader(self, topic: str) -> Reader:
        return _EmbeddedReader(self, topic)

    async def topic_partitions(self, topic: str) -> int:
        return self._topics.get(topic, 0)

    async def offset_for_time(self, topic: str, partition: int, timestamp: int) -> int:
        """The first offset written at or after ``timestamp`` (ms), else the partition's end.

        A binary search: each write batch is stamped with the time it is written, so the
        stamps of a partition only grow (unless the machine's clock is set back; then, as
        with Kafka's ``CreateTime``, the answer can be off by the records of that step)."""
        low, high = 0, self._visible.get((topic, partition), 0)
        while low < high:
            middle = (low + high) // 2
            if _HEAD.unpack_from(self._db.get(_key(partition, middle, topic)))[0] >= timestamp:
                high = middle
            else:
                low = middle + 1
        return low

    async def committed(self, group: str, topic: str) -> dict[int, int]:
        prefix = b"c/" + group.encode() + b"\x00" + topic.encode() + b"\x00"
        out = {}
        it = self._db.iter()
        it.seek(prefix)
        while it.valid() and it.key().startswith(prefix):
            out[struct.unpack(">I", it.key()[len(prefix) :])[0]] = struct.unpack(">q", it.value())[0]
            it.next()
        return out

    async def commit(self, group: str, topic: str, offsets: dict[int, int]) -> None:
        """Record that ``group`` consumed ``topic`` up to (not including) these offsets."""
        self.commit_now(group, topic, offsets)

    def commit_now(self, group: str, topic: str, offsets: dict[int, int]) -> None:
        prefix = b"c/" + group.encode() + b"\x00" + topic.encode() + b"\x00"
        wb = WriteBatch(raw_mode=True)
        for partition, offset in offsets.items():
            wb.put(prefix + struct.pack(">I", partition), struct.pack(">q", offset))
        self._db.write(wb)

    def watch(self) -> Wakeup:
        """A wake-up that is set whenever records became readable (for a long-polling reader)."""
        wakeup = Wakeup()
        self._watchers.add(wakeup)
        return wakeup

    def unwatch(self, wakeup: Wakeup) -> None:
        self._watchers.discard(wakeup)

    async def members(self) -> list[str]:
        """The embedded log's one worker is in the process that opened it, or none is."""
        return [self._member or "worker"] if self._subscribed else []

    def subscribe(self, listener: PartitionListener, member: str | None = None) -> Subscription:
        if self._subscribed:
            raise LogloomError("the embedded log has one worker per process; it is already subscribed")
        self._subscribed = True
        self._member = member
        return _EmbeddedSubscription(self, listener)

    def reader(self) -> Reader:
        return _EmbeddedReader(self)


class Wakeup:
    """What the committer sets when records became readable; one reader waits on it.

    Like ``asyncio.Event``, but ``wait(timeout_s)`` needs no task and no ``asyncio.wait_for``:
    ``set()`` resumes the waiting reader in the next turn of the loop, not three callbacks
    later behind whatever else a busy loop has queued.
    """

    __slots__ = ("_value", "_waiter")

    def __init__(self):
        self._value = False
        self._waiter: asyncio.Future | None = None

    def set(self) -> None:
        self._value = True
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(True)

    def clear(self) -> None:
        self._value = False

    def is_set(self) -> bool:
        return self._value

    async def wait(self, timeout_s: float | None = None) -> bool:
        """True once set; False if ``timeout_s`` seconds pass first."""
        if self._value:
            return True
        loop = asyncio.get_running_loop()
        waiter = self._waiter = loop.create_future()
        timer = None if timeout_s is None else loop.call_later(timeout_s, _expire, waiter)
        try:
            return await waiter
        finally:
            self._waiter = None
            if timer is not None:
                timer.cancel()


def _expire(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_result(False)


class _EmbeddedReader(Reader):
    def __init__(self, log: EmbeddedLog, topic: str = JOURNAL):
        self._log = log
        self._topic = topic
        self._cursors: dict[int, int] = {}
        self._event = log.watch()

    def assign(self, partition: int, offset: int) -> None:
        self._cursors[partition] = offset

    def unassign(self, partition: int) -> None:
        self._cursors.pop(partition, None)

    def _read_some(self) -> list[Entry]:
        out: list[Entry] = []
        for partition, cursor in self._cursors.items():
            entries = self._log.read(partition, cursor, topic=self._topic)
            if entries:
                self._cursors[partition] = entries[-1].offset + 1
                out.extend(entries)
        return out

    async def poll(self, timeout_s: float) -> list[Entry]:
        self._event.clear()
        out = self._read_some()
        if out or timeout_s <= 0:
            return out
        if not await self._event.wait(timeout_s):
            return []
        return self._read_some()

    async def close(self) -> None:
        self._log.unwatch(self._event)


class _EmbeddedSubscription(Subscription):
    """The single member of the embedded log's group: it owns every partition."""

    def __init__(self, log: EmbeddedLog, listener: PartitionListener):
        self._log = log
        self._listener = listener
        self._task = asyncio.create_task(self._run(), name="embedded-log-subscription")

    async def _run(self) -> None:
        log = self._log
        ends = {p: await log.end_offset(p) for p in range(log.num_partitions)}
        starts = await self._listener.assigned(ends)
        self.joined = True
        reader = _EmbeddedReader(log)
        for partition, offset in starts.items():
            reader.assign(partition, offset)
        try:
            while True:
                entries = await reader.poll(3600)
                if entries:
                    self._listener.records(entries)
                    await asyncio.sleep(0)  # let invokers run between batches
        finally:
            await reader.close()

    def report_progress(self, offsets: dict[int, int]) -> None:
        log = self._log
        if log._db is not None:
            log.commit_now(names.worker_group(log.namespace), names.journal_topic(log.namespace), offsets)

    async def close(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._log._subscribed = False
        await self._listener.revoked(list(range(self._log.num_partitions)))
