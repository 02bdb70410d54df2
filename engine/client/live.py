"""The client's live view of the journal: the results of the executions it waits for.

The first watch on a partition reads that partition from offset 0, and from then on one
reader follows every watched partition. The view folds the records of the watched
routing keys, together with the partition's claims, with the very same ``fold.apply``
the workers use, so a record from a fenced worker is ignored here exactly as it is there.
Waiting on an id the client did not create makes that partition's view fold every key
from then on (one scan, then memory for every execution of the partition).

A command is judged the same way (``judge``): 1. watch its routing key, 2. expect a verdict
for that key, so the pump keeps the effects of its records by offset, 3. append, 4. take
the effects of the record at the offset the log acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .. import fold, names
from ..errors import SchemaError
from ..fold import EffectKind, MemoryState
from ..fold.keys import execution_key
from ..fold.rows import ENDED
from ..log.base import Log
from ..wire.codec import Codec
from .scans import JournalScans

log = logging.getLogger(__name__)

POLL_S = 0.2
_FINISHED = EffectKind.FINISHED  # a module name: read for every effect the pump folds (docs/architecture.md)


class _View:
    """The client's fold of one partition: of the watched routing keys and the claims, or
    (``keys is None``) of every key, once the client watched an id it did not create."""

    def __init__(self):
        self.state = MemoryState()
        self.position = 0
        self.keys: set[bytes] | None = set()
        self.waiters: dict[str, list[asyncio.Future]] = {}
        self.expecting: dict[bytes, int] = {}  # routing key -> commands waiting for their verdict
        self.verdicts: dict[int, tuple[bytes, list]] = {}  # offset -> (key, effects), of expected keys
        self.verdict_waiters: dict[int, asyncio.Future] = {}

    def watches(self, key: bytes) -> bool:
        return self.keys is None or key in self.keys or key == names.PARTITION_KEY

    def folded(self, key: bytes, offset: int, effects: list) -> None:
        """The pump folded a record: keep its effects if a command waits for them."""
        if key in self.expecting:
            waiter = self.verdict_waiters.pop(offset, None)
            if waiter is None:
                self.verdicts[offset] = (key, effects)  # the append's acknowledgement is not back yet
            elif not waiter.done():
                waiter.set_result(effects)

    async def verdict(self, offset: int) -> list:
        if offset in self.verdicts:
            return self.verdicts.pop(offset)[1]
        waiter = self.verdict_waiters[offset] = asyncio.get_running_loop().create_future()
        return await waiter


class LiveResults:
    def __init__(self, log_: Log, codec: Codec, scans: JournalScans):
        self.log = log_
        self.codec = codec
        self.scans = scans
        self._views: dict[int, _View] = {}
        self._reader = None
        self._pump_task: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        if self._pump_task is not None:
            self._pump_task.cancel()
            try:
                await self._pump_task
            except asyncio.CancelledError:
                pass
            self._pump_task = None
        if self._reader is not None:
            await self._reader.close()
            self._reader = None

    def watched_row(self, execution_id: str, routing_key: str) -> dict | None:
        """The execution's row as the live view has it, if the view watches it."""
        view = self._views.get(self.log.partition_for(routing_key))
        if view is not None and view.watches(routing_key.encode()):
            return view.state.get(execution_key(execution_id))
        return None

    async def watch(self, routing_key: str, fresh: bool) -> _View:
        partition = self.log.partition_for(routing_key)
        key = routing_key.encode()
        async with self._lock:  # the pump folds nothing while a watch is being added
            view = self._views.get(partition)
            if view is None:
                view = self._views[partition] = _View()
                if self._reader is None:
                    self._reader = self.log.reader()
                self._reader.assign(partition, 0)
            if not view.watches(key):
                if not fresh and view.position > 0:
                    # Records of ids this client did not create were skipped. Fold the whole
                    # partition up to here once, and every key from now on: one scan, not
                    # one per id (the view then holds every execution of the partition).
                    view.state, _ = await self.scans.partition(partition, key=None, stop=view.position)
                    view.keys = None
                else:
                    view.keys.add(key)
            if self._pump_task is None:
                self._pump_task = asyncio.create_task(self._pump(), name="client-pump")
                self._pump_task.add_done_callback(self._pump_ended)
        return view

    def _pump_ended(self, task: asyncio.Task) -> None:
        """If reading the journal fails, fail every waiter now instead of at its timeout."""
        if task.cancelled() or task.exception() is None:
            return
        log.error("client: reading the journal failed: %s", task.exception())
        self._pump_task = None
        for view in self._views.values():
            for waiter in [*(w for ws in view.waiters.values() for w in ws), *view.verdict_waiters.values()]:
                if not waiter.done():
                    waiter.set_exception(task.exception())
            view.waiters.clear()
            view.verdict_waiters.clear()

    async def _pump(self) -> None:
        while True:
            entries = await self._reader.poll(POLL_S)
            if not entries:
                continue
            async with self._lock:
                for entry in entries:
                    view = self._views[entry.partition]
                    if entry.offset < view.position:
                        continue
                    view.position = entry.offset + 1
                    if not view.watches(entry.key):
                        continue
                    try:
                        record = self.codec.decode(entry.value)
                    except SchemaError:
                        continue
                    effects = fold.apply(view.state, record)
                    for effect in effects:
                        if effect.kind == _FINISHED:
                            for waiter in view.waiters.pop(effect.execution_id, []):
                                if not waiter.done():
                                    waiter.set_result(effect.data)
                    if view.expecting:
                        view.folded(entry.key, entry.offset, effects)

    async def judge(self, routing_key: str, append: Callable[[], Awaitable[int]]) -> tuple[list, MemoryState]:
        """Append a command and return what the fold made of it: its effects, and the state.

        1. watch the routing key (its partition is folded up to now), 2. expect a verdict for
        the key, 3. append, 4. wait until the pump folds the acknowledged offset."""
        view = await self.watch(routing_key, fresh=False)
        key = routing_key.encode()
        view.expecting[key] = view.expecting.get(key, 0) + 1
        try:
            offset = await append()
            return await view.verdict(offset), view.state
        finally:
            view.expecting[key] -= 1
            if not view.expecting[key]:  # nobody waits for this key's verdicts any more
                del view.expecting[key]
                view.verdicts = {o: kept for o, kept in view.verdicts.items() if kept[0] != key}

    async def wait_finished(self, execution_id: str, routing_key: str, fresh: bool, timeout_s: float | None) -> dict:
        """Wait until the execution ends; its ended row. ``TimeoutError`` after ``timeout_s``."""
        view = await self.watch(routing_key, fresh)
        row = view.state.get(execution_key(execution_id))
        if row is not None and row["status"] in ENDED:
            return row
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        view.waiters.setdefault(execution_id, []).append(waiter)
        # A timer instead of asyncio.wait_for: the pump's set_result wakes this task
        # directly, not through wait_for's extra callback hops on a busy loop.
        timer = None if timeout_s is None else loop.call_later(timeout_s, _time_out, waiter, execution_id, timeout_s)
        try:
            return await waiter
        finally:
            if timer is not None:
                timer.cancel()


def _time_out(waiter: asyncio.Future, execution_id: str, timeout_s: float) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError(f"execution {execution_id} did not finish within {timeout_s} s"))
