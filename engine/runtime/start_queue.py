"""Runs waiting for room in memory to start, oldest first, in bounded memory.

Past ``max_runs_in_memory`` a run to start waits its turn (``Invoker.start``). A burst of
a million invocations, or a takeover of a partition with a million active runs, would
hold a million ids in memory. This queue holds at most ``max_in_memory`` of them; the rest
wait in a RocksDB on disk, in order:

1. ``push`` keeps an entry in memory (deduplicated) while there is room and nothing waits
   on disk; otherwise it appends it on disk, after the entries already there, so the
   order holds;
2. ``pop`` returns the oldest entry in memory; when memory is empty it moves the next
   chunk from disk into memory first;
3. ``drop_partition`` forgets a partition's entries (its processor closed): those in
   memory at once, those on disk as they are reached.

The disk part is opened on the first entry that needs it, under ``spill_dir``, with the
worker's store memory budget (``store.memory``), and deleted on ``close``. Nothing here
is durable: after a restart or a takeover, the new owner starts every active run from its
store (``Invoker.resume``). An entry on disk may repeat one that was in memory; the
invoker checks that a popped run is still to start.
"""

from __future__ import annotations

import os
import shutil
import struct
import tempfile
import uuid
from collections import Counter, OrderedDict
from pathlib import Path

from rocksdict import Rdict, WriteBatch

from ..store.memory import StoreMemory

MAX_DEFERRED_IN_MEMORY = 10_000
_SEQ = struct.Struct(">Q")


class StartQueue:
    def __init__(
        self,
        max_in_memory: int = MAX_DEFERRED_IN_MEMORY,
        spill_dir: str | os.PathLike | None = None,
        memory: StoreMemory | None = None,
    ):
        if max_in_memory < 1:
            raise ValueError(f"max_deferred_in_memory must be at least 1, got {max_in_memory}")
        self.max_in_memory = max_in_memory
        self._spill_dir = None if spill_dir is None else Path(spill_dir)
        self._memory = memory
        self._in_memory: OrderedDict[tuple[int, str], object] = OrderedDict()  # (partition, id) -> processor
        self._disk: Rdict | None = None
        self._disk_path: Path | None = None
        self._head = self._tail = 0  # the disk entries are the sequence numbers [head, tail)
        self._owners: dict[str, object] = {}  # processor.owner -> processor, for entries on disk
        self._on_disk_by_owner: Counter[str] = Counter()

    def __bool__(self) -> bool:  # read at every run's end: O(1)
        return bool(self._in_memory) or self._head < self._tail

    def __len__(self) -> int:
        return len(self._in_memory) + self.on_disk()

    def in_memory(self) -> int:
        return len(self._in_memory)

    def on_disk(self) -> int:
        """Entries on disk whose partition is still here."""
        return sum(self._on_disk_by_owner.values())

    def push(self, processor, execution_id: str) -> None:
        key = (processor.partition, execution_id)
        if self._head == self._tail and (len(self._in_memory) < self.max_in_memory or key in self._in_memory):
            self._in_memory[key] = processor
            return
        disk = self._disk or self._open_disk()
        owner = processor.owner
        self._owners[owner] = processor
        self._on_disk_by_owner[owner] += 1
        disk[_SEQ.pack(self._tail)] = f"{owner}\0{execution_id}".encode()
        self._tail += 1

    def pop(self) -> tuple[object, str] | None:
        """The oldest entry, as (processor, execution id); None when the queue is empty."""
        while not self._in_memory and self._head < self._tail:
            self._refill()  # a chunk may hold only entries of dropped partitions
        if not self._in_memory:
            return None
        (_, execution_id), processor = self._in_memory.popitem(last=False)
        return processor, execution_id

    def drop_partition(self, partition: int) -> None:
        for key in [key for key in self._in_memory if key[0] == partition]:
            del self._in_memory[key]
        for owner in [owner for owner, processor in self._owners.items() if processor.partition == partition]:
            del self._owners[owner]
            self._on_disk_by_owner.pop(owner, None)

    def close(self) -> None:
        self._in_memory.clear()
        if self._disk is not None:
            self._disk.close()
            self._disk = None
            shutil.rmtree(self._disk_path, ignore_errors=True)
        self._head = self._tail = 0
        self._owners.clear()
        self._on_disk_by_owner.clear()

    def _refill(self) -> None:
        """Move the next chunk of entries from disk into memory, oldest first."""
        assert self._disk is not None
        chunk = max(1, self.max_in_memory // 2)
        end = min(self._tail, self._head + chunk)
        batch = WriteBatch(raw_mode=True)
        it = self._disk.iter()
        it.seek(_SEQ.pack(self._head))
        while it.valid() and _SEQ.unpack(it.key())[0] < end:
            owner, execution_id = it.value().decode().split("\0", 1)
            processor = self._owners.get(owner)
            if processor is not None:
                self._on_disk_by_owner[owner] -= 1
                if not self._on_disk_by_owner[owner]:
                    del self._on_disk_by_owner[owner]
                self._in_memory.setdefault((processor.partition, execution_id), processor)
            it.next()
        del it
        batch.delete_range(_SEQ.pack(self._head), _SEQ.pack(end))
        self._disk.write(batch)
        self._head = end
        if self._head == self._tail:
            self._owners = {owner: p for owner, p in self._owners.items() if owner in self._on_disk_by_owner}

    def _open_disk(self) -> Rdict:
        """The disk part: a fresh RocksDB, named by this process, under ``spill_dir``."""
        base = self._spill_dir
        if base is None:
            base = Path(tempfile.gettempdir()) / "logloom-start-queue"
        base.mkdir(parents=True, exist_ok=True)
        _remove_left_by_dead_processes(base)
        self._disk_path = base / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        options = (self._memory or StoreMemory()).options()
        self._disk = Rdict(str(self._disk_path), options)
        return self._disk


def _remove_left_by_dead_processes(base: Path) -> None:
    """A worker killed with -9 leaves its queue's directory behind: remove those whose
    process is gone (the directory is named ``<pid>-<random>``)."""
    for path in base.iterdir():
        pid = path.name.split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            shutil.rmtree(path, ignore_errors=True)
        except PermissionError:
            pass  # another user's live process
