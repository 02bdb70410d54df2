"""The client's live view of the journal: the results of the executions it waits for.

A client holds memory for the runs it waits on now, and little else:

1. ``watch`` a routing key: from before its first append (``fresh``: nothing to read),
   or by folding that key's records so far, with one read of its partition;
2. one reader follows every watched partition; a record of a watched key is folded into
   that key's own state, with the very same ``fold.apply`` the workers use (each key's
   state also folds the partition's claims, so a fenced record is ignored here exactly
   as it is there); records of other keys are skipped without being decoded;
3. a key nobody waits on any more is forgotten once its runs have ended; a key whose runs
   go on is kept for a later ``result()``, up to ``max_idle_keys``, oldest forgotten
   first. Forgetting is always safe: a later wait reads the key again (step 1);
4. a run that ends while nobody waits on it (invoked, its handle not asked yet) leaves
   only its ended row, up to ``max_finished_results``, until its handle takes it.

A command is judged the same way (``judge``): 1. watch its routing key, 2. expect a verdict
for that key, so the pump keeps the effects of its records by offset, 3. append, 4. take
the effects of the record at the offset the log acknowledged.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from .. import fold, names
from ..errors import SchemaError
from ..fold import EffectKind, MemoryState
from ..fold.keys import EXECUTION_PREFIX, execution_key
from ..fold.rows import ENDED
from ..log.base import Log
from ..wire.codec import Codec
from ..wire.records import RecordType
from .scans import JournalScans
from .waiters import await_end, stop_reading

log = logging.getLogger(__name__)

POLL_S = 0.2
MAX_IDLE_KEYS = 10_000  # keys of runs still going that nobody waits on, kept for a later result()
MAX_FINISHED_RESULTS = 10_000  # ended rows of runs nobody waited on yet, kept for their handles
_CLAIMED = RecordType.PARTITION_CLAIMED
_FINISHED = EffectKind.FINISHED  # a module name: read for every effect the pump folds (docs/architecture.md)


class _Watched:
    """One watched routing key: its own fold (its records and the partition's claims), the
    results waited for, and the commands expecting a verdict."""

    __slots__ = ("state", "waiters", "expecting", "verdicts", "verdict_waiters", "wanted")

    def __init__(self, claims: MemoryState):
        self.state = MemoryState()
        self.state.data.update(claims.data)  # the current epoch: fencing works from the first record
        self.waiters: dict[str, list[asyncio.Future]] = {}
        self.expecting = 0  # commands of this key waiting for their verdict
        self.verdicts: dict[int, list] = {}  # offset -> effects, folded before the append's ack came back
        self.verdict_waiters: dict[int, asyncio.Future] = {}
        self.wanted = 0  # callers of ``watch`` that the catch-up has not handed this key to yet

    def idle(self) -> bool:
        """Nobody waits on anything of this key."""
        return not self.waiters and not self.expecting and not self.verdict_waiters and not self.wanted

    def all_ended(self) -> bool:
        rows = (row for key, row in self.state.data.items() if key.startswith(EXECUTION_PREFIX))
        return all(row["status"] in ENDED for row in rows)

    def folded(self, offset: int, effects: list) -> None:
        """The pump folded a record of this key: keep its effects if a command waits for them."""
        if self.expecting:
            waiter = self.verdict_waiters.pop(offset, None)
            if waiter is None:
                self.verdicts[offset] = effects  # the append's acknowledgement is not back yet
            elif not waiter.done():
                waiter.set_result(effects)

    async def verdict(self, offset: int) -> list:
        if offset in self.verdicts:
            return self.verdicts.pop(offset)
        waiter = self.verdict_waiters[offset] = asyncio.get_running_loop().create_future()
        try:
            return await waiter
        finally:
            self.verdict_waiters.pop(offset, None)


class _Arrival:
    """A key to be watched once the next catch-up read has folded it, and how many callers wait for it."""

    __slots__ = ("future", "wanted")

    def __init__(self):
        self.future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.wanted = 0


class _View:
    """The client's reading of one partition: how far it read, the claims, and the keys
    it watches now (``watched``); every other key's records are skipped undecoded."""

    __slots__ = ("position", "claims", "watched", "catching_up", "catch_up")

    def __init__(self):
        self.position = 0
        self.claims = MemoryState()  # the fold of the partition's claims alone
        self.watched: dict[bytes, _Watched] = {}
        self.catching_up: dict[bytes, _Arrival] = {}  # keys to watch once the next read folds them
        self.catch_up: asyncio.Task | None = None


class LiveResults:
    def __init__(
        self,
        log_: Log,
        codec: Codec,
        scans: JournalScans,
        max_idle_keys: int = MAX_IDLE_KEYS,
        max_finished_results: int = MAX_FINISHED_RESULTS,
    ):
        self.log = log_
        self.codec = codec
        self.scans = scans
        self._views: dict[int, _View] = {}
        self._idle: OrderedDict[tuple[int, bytes], None] = OrderedDict()  # idle keys of live runs, oldest first
        self.max_idle_keys = max_idle_keys
        self._finished: OrderedDict[str, dict] = OrderedDict()  # ended rows not asked for yet
        self.max_finished_results = max_finished_results
        self._reader = None
        self._pump_task: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    async def close(self) -> None:
        for view in self._views.values():
            if view.catch_up is not None:
                view.catch_up.cancel()
        await stop_reading(self._pump_task, self._reader)
        self._pump_task = self._reader = None

    def watched_row(self, execution_id: str, routing_key: str) -> dict | None:
        """The execution's row as the live view has it, if the view watches its key now."""
        view = self._views.get(self.log.partition_for(routing_key))
        watched = None if view is None else view.watched.get(routing_key.encode())
        return None if watched is None else watched.state.get(execution_key(execution_id))

    def sizes(self) -> dict[str, int]:
        """What the live view holds now: every count is bounded by what is being waited on
        (``max_idle_keys`` more keys at most), and drops to 0 when nothing is."""
        keys = [w for view in self._views.values() for w in view.watched.values()]
        return {
            "watched_keys": len(keys),
            "idle_keys": sum(1 for w in keys if w.idle()),
            "state_entries": sum(len(w.state.data) for w in keys),
            "waiters": sum(len(ws) for w in keys for ws in w.waiters.values()),
            "verdicts": sum(len(w.verdicts) + len(w.verdict_waiters) for w in keys),
            "finished_results": len(self._finished),
            "catching_up": sum(len(view.catching_up) for view in self._views.values()),
        }

    async def watch(self, routing_key: str, fresh: bool) -> _Watched:
        """Watch a routing key: ``fresh`` when nothing of it is on the log yet (an id this
        client is about to append); otherwise its records so far are folded first. Keys
        that come to be watched at the same time share one read of their partition
        (``_catch_up``): a thousand resumes of forgotten keys read it once, not a thousand
        times."""
        partition = self.log.partition_for(routing_key)
        key = routing_key.encode()
        view = self._views.get(partition)
        if view is None:
            view = self._views[partition] = _View()
            if self._reader is None:
                self._reader = self.log.reader()
            self._reader.assign(partition, 0)
        if self._pump_task is None:
            self._pump_task = asyncio.create_task(self._pump(), name="client-pump")
            self._pump_task.add_done_callback(self._pump_ended)
        watched = view.watched.get(key)
        if watched is not None:
            return watched
        if fresh or view.position == 0:
            return self._add(partition, view, key)  # the pump folds all of it from here on
        arrival = view.catching_up.get(key)
        if arrival is None:
            arrival = view.catching_up[key] = _Arrival()
            if view.catch_up is None:
                view.catch_up = asyncio.create_task(
                    self._catch_up(partition, view), name=f"client-catch-up-{partition}"
                )
        arrival.wanted += 1  # so the key is not forgotten before this caller has it
        try:
            watched = await asyncio.shield(arrival.future)
        except asyncio.CancelledError:
            if not arrival.future.done():
                arrival.wanted -= 1
            elif arrival.future.exception() is None:  # handed over as this caller was cancelled
                watched = arrival.future.result()
                watched.wanted -= 1
                self._settle(partition, key, watched)
            raise
        watched.wanted -= 1  # the caller waits on it now (it says so before its next await)
        return watched

    def _add(self, partition: int, view: _View, key: bytes) -> _Watched:
        watched = view.watched[key] = _Watched(view.claims)
        self._track(partition, key)  # nobody waits on it yet
        return watched

    async def _catch_up(self, partition: int, view: _View) -> None:
        """Until no key waits to be watched on this partition: 1. pause the pump, 2. take
        every waiting key, 3. fold them all with one read up to where the view is, 4. watch
        them from there on (the pump goes on with them)."""
        try:
            while view.catching_up:
                async with self._lock:
                    arrivals, view.catching_up = view.catching_up, {}
                    try:
                        states = await self.scans.keys(partition, set(arrivals), stop=view.position)
                    except Exception as exc:
                        for arrival in arrivals.values():
                            arrival.future.set_exception(exc)
                        continue
                    for key, arrival in arrivals.items():
                        watched = view.watched.get(key)
                        if watched is None:
                            watched = view.watched[key] = _Watched(view.claims)
                        # A fresh invocation may have started watching the key during the read
                        # (a key many runs share: a queue key, a session). It folded only what
                        # came since, a part of what was read: without the key's history, the
                        # end of a run invoked before would find no row and wake nobody.
                        watched.state = states[key]
                        watched.wanted += arrival.wanted
                        arrival.future.set_result(watched)
                        self._settle(partition, key, watched)  # tracked as idle if every caller has gone
        finally:
            view.catch_up = None

    def _settle(self, partition: int, key: bytes, watched: _Watched) -> None:
        """A key nobody waits on is forgotten once its runs have ended; until then it is kept
        (a result may still be asked for without a read of the partition)."""
        if not watched.idle():
            return
        if watched.all_ended():
            self._views[partition].watched.pop(key, None)
            self._idle.pop((partition, key), None)
        else:
            self._track(partition, key)

    def _remember(self, execution_id: str, row: dict) -> None:
        """Keep the ended row of a run nobody waited on, for its handle's ``result()``: the
        ``max_finished_results`` most recent (older ones are read again if asked for)."""
        self._finished[execution_id] = row
        self._finished.move_to_end(execution_id)
        while len(self._finished) > self.max_finished_results:
            self._finished.popitem(last=False)

    def _track(self, partition: int, key: bytes) -> None:
        """Keep at most ``max_idle_keys`` keys that nobody waits on: the oldest are forgotten."""
        self._idle[(partition, key)] = None
        self._idle.move_to_end((partition, key))
        while len(self._idle) > self.max_idle_keys:
            (p, k), _ = self._idle.popitem(last=False)
            watched = self._views[p].watched.get(k)
            if watched is not None and watched.idle():
                del self._views[p].watched[k]  # a later wait reads the key again

    def _pump_ended(self, task: asyncio.Task) -> None:
        """If reading the journal fails, fail every waiter now instead of at its timeout."""
        if task.cancelled() or task.exception() is None:
            return
        log.error("client: reading the journal failed: %s", task.exception())
        self._pump_task = None
        for view in self._views.values():
            for watched in view.watched.values():
                waiting = [*(w for ws in watched.waiters.values() for w in ws), *watched.verdict_waiters.values()]
                for waiter in waiting:
                    if not waiter.done():
                        waiter.set_exception(task.exception())
                watched.waiters.clear()
                watched.verdict_waiters.clear()

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
                    key = entry.key
                    if key == names.PARTITION_KEY:
                        try:
                            record = self.codec.decode(entry.value)
                        except SchemaError:
                            continue
                        if record["type"] == _CLAIMED:  # the epoch every key's fold fences by
                            fold.apply(view.claims, record)
                            for watched in view.watched.values():
                                fold.apply(watched.state, record)
                        continue  # the partition's other records (delivery confirmations) touch no run
                    watched = view.watched.get(key)
                    if watched is None:
                        continue
                    try:
                        record = self.codec.decode(entry.value)
                    except SchemaError:
                        continue
                    effects = fold.apply(watched.state, record)
                    finished = False
                    for effect in effects:
                        if effect.kind == _FINISHED:
                            finished = True
                            waiters = watched.waiters.pop(effect.execution_id, None)
                            if not waiters:  # nobody asked yet: keep the result for a handle
                                self._remember(effect.execution_id, effect.data)
                                continue
                            for waiter in waiters:
                                if not waiter.done():
                                    waiter.set_result(effect.data)
                    watched.folded(entry.offset, effects)
                    if finished:
                        self._settle(entry.partition, key, watched)

    async def judge(self, routing_key: str, append: Callable[[], Awaitable[int]]) -> tuple[list, MemoryState]:
        """Append a command and return what the fold made of it: its effects, and the state.

        1. watch the routing key (its records so far are folded), 2. expect a verdict for
        the key, 3. append, 4. wait until the pump folds the acknowledged offset."""
        watched = await self.watch(routing_key, fresh=False)
        watched.expecting += 1
        try:
            offset = await append()
            return await watched.verdict(offset), watched.state
        finally:
            watched.expecting -= 1
            if not watched.expecting:  # nobody waits for this key's verdicts any more
                watched.verdicts.clear()
            self._settle(self.log.partition_for(routing_key), routing_key.encode(), watched)

    async def wait_finished(self, execution_id: str, routing_key: str, fresh: bool, timeout_s: float | None) -> dict:
        """Wait until the execution ends; its ended row. ``TimeoutError`` after ``timeout_s``.

        (``fresh`` is kept for callers; a key this view has forgotten is read again.)"""
        row = self._finished.pop(execution_id, None)
        if row is not None:
            return row
        watched = await self.watch(routing_key, fresh=False)
        row = watched.state.get(execution_key(execution_id))
        if row is not None and row["status"] in ENDED:
            self._finished.pop(execution_id, None)  # the pump may have folded its end while this waited
            self._settle(self.log.partition_for(routing_key), routing_key.encode(), watched)
            return row
        try:
            return await await_end(watched.waiters, execution_id, timeout_s)
        except BaseException:  # timed out or cancelled: the key may be idle now
            self._settle(self.log.partition_for(routing_key), routing_key.encode(), watched)
            raise
