"""Reading the journal from offset 0: a partition, or one routing key's records, folded.

Every query of a client that is not a live view (status, history, listings, session
state) folds what it needs from the log with the workers' own ``fold.apply``, so it
agrees with them on which records count (fenced ones don't). Keys are compared before
anything is decoded, so other executions' records are cheap to skip. A query costs one
read of a partition: fine for the CLI and for clients that submit and wait.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from .. import fold, names
from ..errors import SchemaError
from ..fold import MemoryState
from ..fold.keys import execution_key
from ..log.base import Entry, Log
from ..wire.codec import Codec
from ..wire.records import RecordType

POLL_S = 1.0
_CLAIMED = RecordType.PARTITION_CLAIMED


class JournalScans:
    def __init__(self, log: Log, codec: Codec):
        self.log = log
        self.codec = codec

    async def routing_key(self, routing_key: str, stop: int | None = None, collect: bool = False):
        """Fold one routing key's records (and the claims) of its partition from offset 0."""
        return await self.partition(self.log.partition_for(routing_key), routing_key.encode(), stop, collect)

    async def elsewhere(self, execution_id: str, collect: bool = False):
        """Fold every partition, one by one, until one holds the execution: a run of a
        session is keyed by its session, on whichever partition that routes to, its id's
        own partition included (there only the id's key was folded so far)."""
        for partition in range(self.log.num_partitions):
            state, records = await self.partition(partition, key=None, stop=None, collect=collect)
            if state.get(execution_key(execution_id)) is not None:
                return state, records
        return MemoryState(), []

    async def follow(self, partition: int, key: bytes) -> AsyncIterator[tuple[Entry, dict, list]]:
        """Fold one key's records (and the claims) of a partition from offset 0, and go on as
        records arrive: each (entry, record, effects), until the caller stops iterating."""
        state = MemoryState()
        reader = self.log.reader()
        try:
            reader.assign(partition, 0)
            while True:
                for entry in await reader.poll(POLL_S):
                    if entry.key != key and entry.key != names.PARTITION_KEY:
                        continue
                    try:
                        record = self.codec.decode(entry.value)
                    except SchemaError:
                        continue
                    yield entry, record, fold.apply(state, record)
        finally:
            await reader.close()

    async def keys(self, partition: int, keys: set[bytes], stop: int) -> dict[bytes, MemoryState]:
        """Fold several keys of a partition in one read from offset 0 up to ``stop``: each
        key's records into its own state, with the partition's claims (the epoch that
        fences) in every one of them."""
        states = {key: MemoryState() for key in keys}
        async for entry, record in self._read(partition, stop, states.__contains__):
            state = states.get(entry.key)
            if state is not None:
                fold.apply(state, record)
            elif record["type"] == _CLAIMED:
                for each in states.values():
                    fold.apply(each, record)
        return states

    async def partition(self, partition: int, key: bytes | None, stop: int | None, collect: bool = False):
        """Fold a partition from offset 0 up to ``stop``: all of it, or one key and the claims.

        Returns the state, and with ``collect`` every folded (entry, record, effects)."""
        if stop is None:
            stop = await self.log.end_offset(partition)
        state = MemoryState()
        records: list[tuple[Entry, dict, list]] = []
        async for entry, record in self._read(partition, stop, None if key is None else key.__eq__):
            effects = fold.apply(state, record)
            if collect:
                records.append((entry, record, effects))
        return state, records

    async def _read(
        self, partition: int, stop: int, wanted: Callable[[bytes], bool] | None
    ) -> AsyncIterator[tuple[Entry, dict]]:
        """A partition's records from offset 0 up to ``stop``, decoded: every one, or (with
        ``wanted``) those of the keys it accepts and the partition's own. Other keys' records
        are skipped before they are decoded."""
        reader = self.log.reader()
        try:
            reader.assign(partition, 0)
            position = 0
            while position < stop:
                for entry in await reader.poll(POLL_S):
                    if entry.offset >= stop:
                        break
                    position = entry.offset + 1
                    if wanted is not None and entry.key != names.PARTITION_KEY and not wanted(entry.key):
                        continue
                    try:
                        record = self.codec.decode(entry.value)
                    except SchemaError:
                        continue
                    yield entry, record
        finally:
            await reader.close()
