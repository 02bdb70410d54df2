"""PartitionProcessor: the owner of one journal partition inside a worker.

Its life, in order:

1. Replay. Fold records from the store's applied offset + 1 up to the partition's end
   offset as it was at assignment. Each delivered batch is folded into one transaction
   and committed together with its last offset (``PartitionTransaction.commit``).
2. Claim. Append ``PartitionClaimed`` with the current epoch + 1 and keep folding until
   that claim comes back through the log. If it was accepted, this processor owns the
   partition under that epoch.
3. Active. The invoker resumes the executions that were pending or running, and starts
   new ones as their invocations are folded. Everything this processor appends carries
   its epoch, and a step's caller resumes only when the fold has applied its record.
4. Fenced or closed. A newer claim (another worker took over) or a revocation ends
   ownership: running executions are cancelled and nothing more is appended. Records
   this processor had in flight are rejected by the fold, on every replica of the state.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from functools import partial

from . import fold
from .codec import Codec
from .errors import Fenced, SchemaError
from .log.base import Entry, Log
from .store import StorePartition
from .topics import PARTITION_KEY

log = logging.getLogger(__name__)

REPLAYING, CLAIMING, ACTIVE, FENCED, CLOSED = "replaying", "claiming", "active", "fenced", "closed"
# A sleep's TimerFired is written this much before it is due (see the timers section below).
SLEEP_LEAD_MS = 250
# Fold events that the owner turns into commands for other partitions (messenger.py).
_MESSAGES = frozenset({"await_event", "deliver", "close_wait", "topic_awaited", "spawn", "cancel_child", "report",
                       "child_ack"})


def now_ms() -> int:
    return int(time.time() * 1000)


class PartitionProcessor:
    def __init__(self, partition: int, log_: Log, store: StorePartition, codec: Codec, invoker, worker_id: str,
                 on_ownership=lambda processor, owned: None, events=None):
        self.partition = partition
        self.events = events  # Messenger: commands for other partitions (events, children)
        self.on_ownership = on_ownership  # called with True when active, False when that ends
        self.log = log_
        self.store = store
        self.codec = codec
        self.invoker = invoker
        self.owner = f"{worker_id}/{uuid.uuid4().hex[:8]}"
        self.applied = store.applied_offset()
        self.replayed_from = self.applied + 1
        self.epoch = 0
        self.phase = REPLAYING
        self._catchup_end = 0
        self._waiters: dict[tuple, asyncio.Future] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_due: int | None = None
        self._firing: set[bytes] = set()  # timer index keys whose TimerFired is in flight

    # -- 1. replay, 2. claim -------------------------------------------------------------

    def begin(self, end_offset: int) -> None:
        self._catchup_end = end_offset
        self._maybe_claim()

    def _maybe_claim(self) -> None:
        if self.phase == REPLAYING and self.applied + 1 >= self._catchup_end:
            self.phase = CLAIMING
            self._append_claim()

    def _append_claim(self) -> None:
        epoch = fold.current_epoch(self.store) + 1
        record = {"execution_id": "", "epoch": epoch, "at": now_ms(), "owner": self.owner}
        ack = self.log.append(self.partition, PARTITION_KEY, self.codec.encode("PartitionClaimed", record))
        ack.add_done_callback(self._claim_appended)

    def _claim_appended(self, ack: asyncio.Future) -> None:
        if ack.cancelled() or ack.exception() is not None:
            log.error("partition %d: claim append failed: %s", self.partition,
                      "cancelled" if ack.cancelled() else ack.exception())
            if self.phase == CLAIMING:
                asyncio.get_running_loop().call_later(1.0, self._append_claim)

    # -- the fold loop ---------------------------------------------------------------

    def on_records(self, entries: list[Entry]) -> None:
        """Fold a batch of this partition's records; commit it with its last offset."""
        if self.phase == CLOSED:
            return
        last, events = fold_batch(self.store, self.codec, entries, self.applied)
        if last == self.applied:
            return
        self.applied = last
        for event in events:
            self._dispatch(event)
        self._maybe_claim()

    def _dispatch(self, event: fold.Event) -> None:
        kind = event.kind
        if kind == "step":
            self._resolve((event.execution_id, event.data[0]), event.data[1])
        elif kind == "finished":
            self._resolve((event.execution_id, "end"), event.data)
        elif kind == "invoked":
            if self.phase == ACTIVE:
                self.invoker.start(self, event.data)
        elif kind == "woken":
            if self.phase == ACTIVE:
                self.invoker.wake(self, event.data)
        elif kind == "cancel":
            if self.phase == ACTIVE:
                self.invoker.cancel(self, event.data)
        elif kind == "timer":
            self._schedule_timers()
        elif kind in _MESSAGES:
            if self.phase == ACTIVE:
                self.events.on_fold_event(self, event)
        elif kind == "timer_done":
            self._firing.discard(event.data)
        elif kind == "claimed":
            self._on_claimed(event.data)
        elif kind == "claim_rejected" and event.data["owner"] == self.owner and self.phase == CLAIMING:
            log.warning("partition %d: claim for epoch %d lost a race; claiming again",
                        self.partition, event.data["epoch"])
            self._append_claim()

    def _on_claimed(self, claim: dict) -> None:
        if claim["owner"] == self.owner:
            if self.phase == CLAIMING:
                self.epoch = claim["epoch"]
                self.phase = ACTIVE
                log.info("partition %d: active with epoch %d", self.partition, self.epoch)
                self.invoker.resume(self)
                self._schedule_timers()
                self.events.resend(self)
                self.on_ownership(self, True)
        elif self.phase in (ACTIVE, CLAIMING):
            log.warning("partition %d: fenced, %s claimed epoch %d", self.partition, claim["owner"], claim["epoch"])
            self._fence()

    def _resolve(self, key: tuple, value) -> None:
        waiter = self._waiters.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(value)

    # -- timers: the owner appends TimerFired when a timer in the index is due ------------
    #
    # A sleep's TimerFired is appended up to SLEEP_LEAD_MS before it is due: the record's
    # trip through the log and the run's replay overlap the end of the sleep, and the
    # workflow itself waits until the recorded due time before it goes on (context.py).
    # Wait timeouts and run deadlines fire only when due: firing them early would cut the
    # wait short.

    def _fires_at(self, due: int, index: dict) -> int:
        return due - SLEEP_LEAD_MS if index.get("sleep") else due

    def _schedule_timers(self) -> None:
        """Arm one loop timer for the earliest firing time in the timer index."""
        if self.phase != ACTIVE:
            return
        at = None
        for key, index in self.store.scan(b"t/"):
            due, _, _ = fold.parse_timer_key(key)
            if at is not None and due - SLEEP_LEAD_MS >= at:
                break  # the index is ordered by due time: nothing later fires sooner
            if key not in self._firing:
                at = self._fires_at(due, index) if at is None else min(at, self._fires_at(due, index))
        if at is None:
            return
        if self._timer is not None:
            if self._timer_due is not None and self._timer_due <= at:
                return
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        self._timer_due = at
        self._timer = loop.call_at(loop.time() + max(0.0, at / 1000 - time.time()), self._fire_due)

    def _fire_due(self) -> None:
        """1. append TimerFired for every timer due to fire and not already in flight, 2. re-arm."""
        self._timer = self._timer_due = None
        if self.phase != ACTIVE:
            return
        now = now_ms()
        for key, index in self.store.scan(b"t/"):
            due, execution_id, seq = fold.parse_timer_key(key)
            if due - SLEEP_LEAD_MS > now:
                break
            if key in self._firing or self._fires_at(due, index) > now:
                continue
            self._firing.add(key)
            ack = self.append("TimerFired", execution_id, index["routing"].encode(), seq=seq, key=index["key"],
                              due_at=due)
            ack.add_done_callback(partial(self._fire_appended, key))
        self._schedule_timers()

    def _fire_appended(self, key: bytes, ack: asyncio.Future) -> None:
        if ack.cancelled() or ack.exception() is not None:
            self._firing.discard(key)  # not on the log: fire it again
            if self.phase == ACTIVE:
                asyncio.get_running_loop().call_later(0.5, self._schedule_timers)

    # -- 3. appends for the invoker ----------------------------------------------------

    def append(self, record_type: str, execution_id: str, routing_key: bytes, at: int | None = None,
               **fields) -> asyncio.Future[int]:
        if self.phase != ACTIVE:
            raise Fenced(f"partition {self.partition} is {self.phase}")
        record = {"execution_id": execution_id, "epoch": self.epoch, "at": at or now_ms(), **fields}
        return self.log.append(self.partition, routing_key, self.codec.encode(record_type, record))

    def waiter(self, key: tuple) -> asyncio.Future:
        """A future the fold resolves when it applies an outcome for ``key``."""
        if self.phase != ACTIVE:
            raise Fenced(f"partition {self.partition} is {self.phase}")
        waiter = asyncio.get_running_loop().create_future()
        self._waiters[key] = waiter
        return waiter

    def send(self, record_type: str, routing_key: str, to_partition: int | None = None,
             **fields) -> asyncio.Future[int]:
        """Append a command (epoch 0) to the partition ``routing_key`` maps to (or ``to_partition``)."""
        if self.phase != ACTIVE:
            raise Fenced(f"partition {self.partition} is {self.phase}")
        record = {"epoch": 0, "at": now_ms(), **fields}
        if to_partition is None:
            to_partition = self.log.partition_for(routing_key)
        return self.log.append(to_partition, routing_key.encode(), self.codec.encode(record_type, record))

    def forget_waiter(self, key: tuple, waiter: asyncio.Future) -> None:
        if self._waiters.get(key) is waiter:
            del self._waiters[key]
        waiter.cancel()

    async def append_and_wait(self, record_type: str, execution_id: str, routing_key: bytes,
                              wait_for: tuple, **fields):
        """1. register the waiter, 2. append, 3. resume when the fold applied the winner."""
        waiter = self.waiter(wait_for)
        ack = self.append(record_type, execution_id, routing_key, **fields)
        ack.add_done_callback(partial(_forward_failure, waiter))
        return await waiter

    # -- 4. fenced or closed ---------------------------------------------------------

    def _stop_timers(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = self._timer_due = None

    def _fence(self) -> None:
        self.phase = FENCED
        self._stop_timers()
        self.on_ownership(self, False)
        self._fail_waiters()
        self.invoker.stop_partition(self.partition)

    def _fail_waiters(self) -> None:
        waiters, self._waiters = self._waiters, {}
        for waiter in waiters.values():
            if not waiter.done():
                waiter.set_exception(Fenced(f"partition {self.partition} is no longer owned"))

    async def close(self) -> None:
        was_active = self.phase == ACTIVE
        self.phase = CLOSED
        self._stop_timers()
        if was_active:
            self.on_ownership(self, False)
        self._fail_waiters()
        await self.invoker.stop_partition(self.partition)
        self.store.close()


def _forward_failure(waiter: asyncio.Future, ack: asyncio.Future) -> None:
    if waiter.done():
        return
    if ack.cancelled():
        waiter.cancel()
    elif ack.exception() is not None:
        waiter.set_exception(ack.exception())


def fold_batch(store: StorePartition, codec: Codec, entries: list[Entry], applied: int) -> tuple[int, list]:
    """Fold records past ``applied`` into one transaction; commit it with the last offset.

    Records that cannot be decoded are skipped with their reason kept under ``d/<offset>``,
    so one poison record never stops the partition. Returns (last offset, fold events).
    """
    tx = store.transaction()
    events: list[fold.Event] = []
    last = applied
    for entry in entries:
        if entry.offset <= last:
            continue  # delivered again after a reassignment
        last = entry.offset
        try:
            record = codec.decode(entry.value)
        except SchemaError as exc:
            log.error("partition %d offset %d: skipping a record that cannot be decoded: %s",
                      entry.partition, entry.offset, exc)
            tx.put(b"d/%020d" % entry.offset, {"offset": entry.offset, "reason": str(exc),
                                              "key": entry.key.decode(errors="replace")})
            continue
        events.extend(fold.apply(tx, record))
    if last != applied:
        tx.commit(last)
    return last, events
