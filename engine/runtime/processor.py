"""PartitionProcessor: the owner of one journal partition inside a worker.

Its life, in order (``Phase``):

1. Replay. Fold records from the store's applied offset + 1 up to the partition's end
   offset as it was at assignment. Each delivered batch is folded into one transaction
   and committed together with its last offset (``folding.fold_batch``).
2. Claim. Append ``PartitionClaimed`` with the current epoch + 1 and keep folding until
   that claim comes back through the log. If it was accepted, this processor owns the
   partition under that epoch.
3. Active. The invoker resumes the executions that were pending or running, and starts
   new ones as their invocations are folded. Everything this processor appends carries
   its epoch, and a step's caller resumes only when the fold has applied its record.
4. Fenced or closed. A newer claim (another worker took over) or a revocation ends
   ownership: running executions are cancelled and nothing more is appended. Records
   this processor had in flight are rejected by the fold, on every replica of the state.

The fold's effects are acted on through ``ACTIONS``, which covers every ``EffectKind``
(checked when this module loads); the cross-partition ones go to the messenger.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from enum import StrEnum
from functools import partial

from .. import fold
from ..clock import now_ms
from ..errors import Fenced
from ..fold import Effect, EffectKind
from ..log.base import Entry, Log
from ..names import PARTITION_KEY
from ..store import StorePartition
from ..store.folding import fold_batch
from ..wire import records
from ..wire.codec import Codec
from ..wire.records import Record
from ..workflow.interceptors import FoldedRecord
from .timers import Timers

log = logging.getLogger(__name__)

RETRY_CLAIM_AFTER_S = 1.0


class Phase(StrEnum):
    REPLAYING = "replaying"
    CLAIMING = "claiming"
    ACTIVE = "active"
    FENCED = "fenced"
    CLOSED = "closed"


# Read per batch of records, as module names (docs/architecture.md: enum members on hot paths).
_REPLAYING, _CLAIMING, _ACTIVE, _CLOSED = Phase.REPLAYING, Phase.CLAIMING, Phase.ACTIVE, Phase.CLOSED


class PartitionProcessor:
    def __init__(
        self,
        partition: int,
        log_: Log,
        store: StorePartition,
        codec: Codec,
        invoker,
        worker_id: str,
        on_ownership=lambda processor, owned: None,
        messenger=None,
        interceptors: tuple = (),
    ):
        self.partition = partition
        self.interceptors = tuple(interceptors)  # workflow hooks (``workflow.interceptors``)
        # what ``fold_batch`` hands each record to: None unless there are interceptors
        self._observe = self._intercept if self.interceptors else None
        self._live_from = 1 << 62  # the offset of its accepted claim, once folded (``_intercept``)
        self.messenger = messenger  # commands for other partitions (events, children)
        self.on_ownership = on_ownership  # called with True when active, False when that ends
        self.log = log_
        self.store = store
        self.codec = codec
        self.invoker = invoker
        self.owner = f"{worker_id}/{uuid.uuid4().hex[:8]}"
        self.applied = store.applied_offset()
        self.replayed_from = self.applied + 1
        self.epoch = 0
        self.active = False  # whether this processor owns its partition now (and may append)
        self.draining = False  # being given up: its runs start no new step
        self.phase = Phase.REPLAYING
        self.timers = Timers(self)
        self._catchup_end = 0
        self._began_at = 0.0
        self.replay_s: float | None = None  # how long its replay took, once done
        self._waiters: dict[tuple, asyncio.Future] = {}

    def outcomes_awaited(self) -> int:
        """Outcomes that runs of this partition wait for the fold to apply (``waiter``)."""
        return len(self._waiters)

    @property
    def phase(self) -> Phase:
        return self._phase

    @phase.setter
    def phase(self, phase: Phase) -> None:
        self._phase = phase
        self.active = phase is _ACTIVE  # read on every append: a plain attribute

    # -- 1. replay, 2. claim -------------------------------------------------------------

    def begin(self, end_offset: int) -> None:
        self._catchup_end = end_offset
        self._began_at = time.monotonic()
        self._maybe_claim()

    def _maybe_claim(self) -> None:
        if self._phase is _REPLAYING and self.applied + 1 >= self._catchup_end:
            self.replay_s = time.monotonic() - self._began_at
            log.info(
                "partition %d: replayed %d records (offsets %d to %d) in %.2f s; claiming",
                self.partition, self.applied + 1 - self.replayed_from, self.replayed_from, self.applied, self.replay_s,
            )  # fmt: skip
            self.phase = Phase.CLAIMING
            self._append_claim()

    def _append_claim(self) -> None:
        record = records.partition_claimed(fold.current_epoch(self.store) + 1, now_ms(), owner=self.owner)
        ack = self.log.append(self.partition, PARTITION_KEY, self.codec.encode(record))
        ack.add_done_callback(self._claim_appended)

    def _claim_appended(self, ack: asyncio.Future) -> None:
        if ack.cancelled() or ack.exception() is not None:
            log.error(
                "partition %d: claim append failed: %s",
                self.partition,
                "cancelled" if ack.cancelled() else ack.exception(),
            )
            if self.phase is Phase.CLAIMING:
                asyncio.get_running_loop().call_later(RETRY_CLAIM_AFTER_S, self._append_claim)

    # -- the fold loop ---------------------------------------------------------------

    def on_records(self, entries: list[Entry]) -> None:
        """Fold a batch of this partition's records; commit it with its last offset; act on the effects."""
        if self._phase is _CLOSED:
            return
        last, effects = fold_batch(
            self.store, self.codec, entries, self.applied, self._observe, on_dead=self._dead_letter
        )
        if last == self.applied:
            return
        self.applied = last
        for effect in effects:
            ACTIONS[effect.kind](self, effect)
        self._maybe_claim()

    def _intercept(self, entry: Entry, record: dict, effects: list, tx) -> None:
        """Show a record folded live to the interceptors (``workflow.interceptors``): only
        while this processor owns the partition, so replay at start-up shows nothing. It
        owns it from its accepted claim on, which the fold applies in the middle of a
        batch; the phase turns active only once the batch is folded."""
        if not self.active:
            if self._phase is _CLAIMING and self._claim_accepted(effects):
                self._live_from = entry.offset
            if self._phase is not _CLAIMING or entry.offset <= self._live_from:
                return
        folded = FoldedRecord(record, entry.partition, entry.offset, entry.timestamp, effects, tx)
        for interceptor in self.interceptors:
            try:
                interceptor.on_record(folded)
            except Exception:  # a hook never stops the fold
                log.exception("partition %d offset %d: interceptor %r failed", self.partition, entry.offset,
                              interceptor)  # fmt: skip

    def _claim_accepted(self, effects: list) -> bool:
        return any(e.kind is EffectKind.CLAIMED and e.data["owner"] == self.owner for e in effects)

    def _dead_letter(self, entry: Entry, reason: str) -> None:
        """A journal record that cannot be folded: kept in the store (``d/<offset>``), and,
        by the partition's owner, also published to the dead-letter topic with its reason."""
        if self.active and self.messenger.router is not None:
            asyncio.ensure_future(self.messenger.router.dead_letter(entry, reason))

    def _on_step(self, effect: Effect) -> None:
        seq, entry = effect.data
        self._resolve((effect.execution_id, seq), entry)

    def _on_finished(self, effect: Effect) -> None:
        self._resolve((effect.execution_id, "end"), effect.data)

    def _on_invoked(self, effect: Effect) -> None:
        if self.active:
            self.invoker.start(self, effect.data)

    def _on_woken(self, effect: Effect) -> None:
        if self.active:
            self.invoker.wake(self, effect.data)

    def _on_cancel(self, effect: Effect) -> None:
        if self.active:
            self.invoker.cancel(self, effect.data)

    def _on_timer(self, effect: Effect) -> None:
        self.timers.schedule()

    def _on_timer_done(self, effect: Effect) -> None:
        self.timers.done(effect.data)

    def _to_messenger(self, effect: Effect) -> None:
        if self.active:
            self.messenger.on_effect(self, effect)

    def _on_claimed(self, effect: Effect) -> None:
        claim = effect.data
        if claim["owner"] == self.owner:
            if self.phase is Phase.CLAIMING:
                self.epoch = claim["epoch"]
                self.phase = Phase.ACTIVE
                log.info("partition %d: active with epoch %d", self.partition, self.epoch)
                self.invoker.resume(self)
                self.timers.schedule()
                self.messenger.resend(self)
                self.on_ownership(self, True)
        elif self.phase in (Phase.ACTIVE, Phase.CLAIMING):
            log.warning("partition %d: fenced, %s claimed epoch %d", self.partition, claim["owner"], claim["epoch"])
            self._fence()

    def _on_claim_rejected(self, effect: Effect) -> None:
        claim = effect.data
        if claim["owner"] == self.owner and self.phase is Phase.CLAIMING:
            log.warning("partition %d: claim for epoch %d lost a race; claiming again", self.partition, claim["epoch"])
            self._append_claim()

    def _nothing(self, effect: Effect) -> None:
        """The effect changes nothing the owner acts on (history shows it)."""

    def _resolve(self, key: tuple, value) -> None:
        waiter = self._waiters.pop(key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(value)

    # -- 3. appends for the invoker and the messenger -----------------------------------

    def _fenced(self) -> Fenced:
        return Fenced(f"partition {self.partition} is {self.phase}")

    def append(self, routing_key: bytes, record: Record) -> asyncio.Future[int]:
        """Append a record built with this processor's epoch to its own partition."""
        if not self.active:
            raise self._fenced()
        return self.log.append(self.partition, routing_key, self.codec.encode(record))

    def send(self, routing_key: str, record: Record, to_partition: int | None = None) -> asyncio.Future[int]:
        """Append a command (epoch 0) to the partition ``routing_key`` maps to (or ``to_partition``)."""
        if not self.active:
            raise self._fenced()
        if to_partition is None:
            to_partition = self.log.partition_for(routing_key)
        return self.log.append(to_partition, routing_key.encode(), self.codec.encode(record))

    def waiter(self, key: tuple) -> asyncio.Future:
        """A future the fold resolves when it applies an outcome for ``key``."""
        if not self.active:
            raise self._fenced()
        waiter = asyncio.get_running_loop().create_future()
        self._waiters[key] = waiter
        return waiter

    def forget_waiter(self, key: tuple, waiter: asyncio.Future) -> None:
        if self._waiters.get(key) is waiter:
            del self._waiters[key]
        waiter.cancel()

    async def append_and_wait(self, routing_key: bytes, record: Record, wait_for: tuple):
        """1. register the waiter, 2. append, 3. resume when the fold applied the winner."""
        waiter = self.waiter(wait_for)
        ack = self.append(routing_key, record)
        ack.add_done_callback(partial(_forward_failure, waiter))
        return await waiter

    # -- 4. fenced or closed ---------------------------------------------------------

    def _fence(self) -> None:
        self.phase = Phase.FENCED
        self.timers.stop()
        self.on_ownership(self, False)
        self._fail_waiters()
        self.invoker.stop_partition(self.partition)

    def _fail_waiters(self) -> None:
        waiters, self._waiters = self._waiters, {}
        for waiter in waiters.values():
            if not waiter.done():
                waiter.set_exception(Fenced(f"partition {self.partition} is no longer owned"))

    async def close(self) -> None:
        was_active = self.active
        self.phase = Phase.CLOSED
        self.timers.stop()
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


_Action = Callable[[PartitionProcessor, Effect], None]
ACTIONS: dict[EffectKind, _Action] = {
    EffectKind.CLAIMED: PartitionProcessor._on_claimed,
    EffectKind.CLAIM_REJECTED: PartitionProcessor._on_claim_rejected,
    EffectKind.INVOKED: PartitionProcessor._on_invoked,
    EffectKind.STEP: PartitionProcessor._on_step,
    EffectKind.FINISHED: PartitionProcessor._on_finished,
    EffectKind.CANCEL: PartitionProcessor._on_cancel,
    EffectKind.TIMER: PartitionProcessor._on_timer,
    EffectKind.TIMER_DONE: PartitionProcessor._on_timer_done,
    EffectKind.WOKEN: PartitionProcessor._on_woken,
    **{kind: PartitionProcessor._to_messenger for kind in fold.CROSS_PARTITION},
    **{
        kind: PartitionProcessor._nothing
        for kind in (
            EffectKind.FENCED,
            EffectKind.STARTED,
            EffectKind.BUFFERED,
            EffectKind.REGISTERED,
            EffectKind.DUPLICATE,
            EffectKind.IGNORED,
            EffectKind.SCHEDULE,
            EffectKind.QUEUED,
            EffectKind.QUEUE,
        )
    },
}
_unhandled = set(EffectKind) - set(ACTIONS)
if _unhandled:  # an effect nobody acts on would be dropped silently in production
    raise ImportError(f"the partition processor has no action for {sorted(_unhandled)}")
