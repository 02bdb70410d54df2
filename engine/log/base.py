"""The one interface both logs implement: partitioned, keyed, offset-ordered, durable.

Two ways to read:

* ``subscribe(listener)``: group membership for workers. The log assigns partitions to
  the listener (all of them on the embedded log; a share of them on Kafka, rebalanced
  as workers come and go), asks it where to start each one, and then delivers records
  in offset order per partition.
* ``reader()``: an independent cursor over chosen partitions, for clients, history and
  tests. It never joins the worker group.

Appends are acknowledged only when durable: ``acks=all`` on Kafka, synced to disk on
the embedded log.
"""

from __future__ import annotations

import asyncio
import zlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol


@dataclass(slots=True, frozen=True)
class Entry:
    partition: int
    offset: int
    key: bytes
    value: bytes
    timestamp: int  # milliseconds since the epoch, set by the log
    topic: str = ""  # "" for the journal; a named topic's name otherwise


@dataclass(slots=True, frozen=True)
class TopicEntry(Entry):
    """A record of a named topic that came with a W3C ``traceparent`` header (Kafka)."""

    traceparent: str | None = None


def partition_for(routing_key: str | bytes, num_partitions: int) -> int:
    """CRC-32 of the key modulo the partition count (librdkafka's ``consistent`` partitioner)."""
    if isinstance(routing_key, str):
        routing_key = routing_key.encode()
    return zlib.crc32(routing_key) % num_partitions


class PartitionListener(Protocol):
    async def assigned(self, ends: dict[int, int]) -> dict[int, int]:
        """Partitions now owned, with their end offsets; returns the offset to start each at."""

    async def revoked(self, partitions: list[int], lost: bool = False) -> None:
        """Partitions no longer owned. Records for them may still arrive and must be ignored.

        Given up in a rebalance (``lost`` False), they are still this member's until this
        returns: the steps in flight there may finish and be recorded. ``lost``: the group
        has already given them to another member (this one's session expired)."""

    def records(self, entries: list[Entry]) -> None:
        """A batch of records, in offset order within each partition."""


class Subscription(ABC):
    joined = False  # whether the group has given this member its first assignment (empty or not)
    # When (time.monotonic()) the member last knew it was in its group: a worker starts no
    # step body while this is stale (``runtime.run``). The one member of a one-process log
    # always is.
    alive_at = float("inf")

    async def until_alive(self) -> None:  # noqa: B027 - a one-member log is always in its group
        """Return once the member knows again that it is in its group."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def report_progress(self, offsets: dict[int, int]) -> None:
        """How far the member has folded each partition it owns (the next offset), for
        monitoring: committed for the worker group, where Kafka's tools show the lag.
        Recovery never reads it: start offsets come from the stores."""


class Reader(ABC):
    """An independent cursor over some partitions."""

    @abstractmethod
    def assign(self, partition: int, offset: int) -> None:
        """Read ``partition`` from ``offset`` on (replacing any earlier position)."""

    @abstractmethod
    async def poll(self, timeout_s: float) -> list[Entry]:
        """Records past the cursors; waits up to ``timeout_s`` seconds when there are none."""

    @abstractmethod
    async def close(self) -> None: ...


class Log(ABC):
    namespace: str
    num_partitions: int

    @abstractmethod
    async def start(self) -> None:
        """Open or create the journal. Sets ``num_partitions`` from what exists."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    def append(self, partition: int, key: bytes, value: bytes) -> asyncio.Future[int]:
        """Append one record; the future gives its offset once the record is durable."""

    @abstractmethod
    async def end_offset(self, partition: int) -> int:
        """The offset the next record appended to ``partition`` will get."""

    @abstractmethod
    def subscribe(self, listener: PartitionListener, member: str | None = None) -> Subscription:
        """Join the worker group as ``member`` (a worker id; Kafka's client.id)."""

    @abstractmethod
    def reader(self) -> Reader: ...

    # -- named topics: domain events, read by the router ------------------------------

    @abstractmethod
    async def ensure_topic(self, topic: str, partitions: int = 1) -> int:
        """Create ``topic`` if missing; returns its partition count."""

    @abstractmethod
    async def publish(self, topic: str, key: bytes | None, value: bytes) -> tuple[int, int]:
        """Append to a named topic (partition by key); returns (partition, offset) once durable."""

    @abstractmethod
    def topic_reader(self, topic: str) -> Reader:
        """A cursor over a named topic's partitions."""

    @abstractmethod
    async def topic_partitions(self, topic: str) -> int:
        """Partition count of a named topic; 0 if it does not exist."""

    @abstractmethod
    async def offset_for_time(self, topic: str, partition: int, timestamp: int) -> int:
        """The first offset whose record is at or after ``timestamp`` (ms); the end if none."""

    @abstractmethod
    async def committed(self, group: str, topic: str) -> dict[int, int]:
        """Offsets ``group`` committed on ``topic``: the next offset to read, per partition."""

    @abstractmethod
    async def commit(self, group: str, topic: str, offsets: dict[int, int]) -> None: ...

    def appends_in_flight(self) -> int:
        """Appends handed to the log and not acknowledged yet (a figure for status)."""
        return 0

    async def members(self) -> list[str] | None:
        """The workers that serve this log now (the worker group's members), if known."""
        return None

    async def workers(self) -> int | None:
        """How many workers serve this log now, if known."""
        members = await self.members()
        return None if members is None else len(members)

    def partition_for(self, routing_key: str | bytes) -> int:
        return partition_for(routing_key, self.num_partitions)

    async def __aenter__(self) -> Log:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()
