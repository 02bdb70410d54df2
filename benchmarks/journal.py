"""Reading a benchmark's journal back: every record with the fold's verdict, in one pass.

``scan`` is what ``Client.history`` gives for one execution, for all executions at once:
each partition is read from offset 0 to its end and folded with ``engine.fold.apply``
into a fresh in-memory state, exactly as a client folds it, so a record written by a
fenced owner or a duplicate is marked as such. One pass instead of one partition scan
per execution (``history`` reads the whole partition each time).

``TypeCounter`` tails the journal and counts records by type without decoding bodies.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass

from engine import fold
from engine.errors import SchemaError
from engine.fold import NOT_APPLIED, MemoryState
from engine.log.base import Log
from engine.wire.codec import Codec, default_codec


@dataclass(frozen=True, slots=True)
class Record:
    partition: int
    offset: int
    fields: dict  # the decoded record, with its "type"
    applied: bool  # False if the fold ignored it (fenced, duplicate, ...)
    timestamp_ms: int = 0  # the log's timestamp: when its producer sent it


async def scan(log: Log, codec: Codec | None = None, timeout: float = 120.0) -> list[Record]:
    """Every record of every partition in log order (per partition), with the fold's verdict."""
    codec = codec or default_codec()
    out: list[Record] = []
    for partition in range(log.num_partitions):
        stop = await log.end_offset(partition)
        state = MemoryState()
        reader = log.reader()
        deadline = time.monotonic() + timeout
        try:
            reader.assign(partition, 0)
            position = 0
            while position < stop:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"partition {partition}: read {position} of {stop} records")
                for entry in await reader.poll(1.0):
                    if entry.offset >= stop:
                        break
                    position = entry.offset + 1
                    try:
                        record = codec.decode(entry.value)
                    except SchemaError:
                        continue  # a poison record: the fold skips it too (store.folding)
                    effects = fold.apply(state, record)
                    applied = not any(e.kind in NOT_APPLIED for e in effects)
                    out.append(Record(partition, entry.offset, record, applied, entry.timestamp))
        finally:
            await reader.close()
    return out


def owner_epochs(records: list[Record]) -> dict[tuple[int, int], str]:
    """(partition, epoch) -> owner of every accepted ``PartitionClaimed``."""
    return {
        (r.partition, r.fields["epoch"]): r.fields["owner"]
        for r in records
        if r.fields["type"] == "PartitionClaimed" and r.applied
    }


class TypeCounter:
    """Counts the journal's records by type as they arrive (type from the header only)."""

    def __init__(self, log: Log, codec: Codec | None = None):
        self.codec = codec or default_codec()
        self.counts: Counter[str] = Counter()
        self._reader = log.reader()
        for partition in range(log.num_partitions):
            self._reader.assign(partition, 0)

    async def drain(self, timeout: float = 0.2) -> Counter[str]:
        """Read everything that is there now; returns the counts so far."""
        while True:
            entries = await self._reader.poll(timeout)
            if not entries:
                return self.counts
            for entry in entries:
                self.counts[self.codec.type_of(entry.value) or "?"] += 1

    async def close(self) -> None:
        await self._reader.close()
