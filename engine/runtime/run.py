"""ExecutionRun: one execution while its task runs. The runtime's side of ``workflow.port``.

It holds the execution's journal and step counter, appends its records through the
partition processor, waits for the fold, and parks on open waits. ``active`` counts the
step bodies running and the appends waiting for their fold; ``parked`` holds the open
waits (position -> due time). Its life in memory is a ``RunState`` (``run_state.py``):
when every branch is parked on a wait that is not due soon, it is evicted: its task is
cancelled and the execution lives on only as rows in the store, until a record wakes it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from .. import names
from ..clock import now_ms
from ..errors import CancelledByRequest, Draining, Fenced, StateTooLargeError
from ..fold.keys import journal_key, session_state_key
from ..fold.rows import EntryStatus
from ..wire import records
from ..workflow.journal import Journal
from ..workflow.port import RecordBuilder
from ..workflow.registry import Registry
from ..workflow.state import dump_state
from .idle_runs import IdleRuns
from .run_state import TRANSITIONS, IllegalTransition, RunEvent, RunState

log = logging.getLogger(__name__)

# Read at every step, as module names (docs/architecture.md: enum members on hot paths).
_WORK, _ALL_PARKED, _IDLE, _RUNNING = RunEvent.WORK, RunEvent.ALL_PARKED, RunState.IDLE, RunState.RUNNING
_BEING_EVICTED = (RunState.EVICTED, RunState.EVICTED_WOKEN)
_EVICT, _STOP, _WAKE = RunEvent.EVICT, RunEvent.STOP, RunEvent.WAKE
_WAITING = EntryStatus.WAITING

# Waits due sooner than this stay in memory; longer ones are evicted (no task, no coroutine).
KEEP_IN_MEMORY_MS = 1000
# A worker that has not heard from its group for this long doubts it still owns its
# partitions, and starts no step body until it knows (``ownership_in_doubt``). Below the
# shortest pause that can expire a session (the session timeout less a heartbeat).
MEMBERSHIP_STALE_S = 0.75


class Shutdown:
    """Shared by a worker's runs, read before each step body: once ``draining``, no run
    starts another step; and ``membership`` (the worker's group subscription) says when
    the worker last knew it was in its group (``alive_at``, monotonic seconds)."""

    __slots__ = ("draining", "membership")

    def __init__(self):
        self.draining = False
        self.membership = None  # the worker's Subscription, once it has one


class ExecutionRun:
    # One per running execution, made and dropped at every wake: no per-instance dict.
    __slots__ = (
        "processor", "registry", "idle_runs", "row", "journal", "execution_id", "routing_key", "state", "active",
        "recording", "parked", "task", "cancel_reason", "terminate", "idle_token", "ctx", "recorded_state", "shutdown",
        "_seq",
    )  # fmt: skip

    def __init__(
        self,
        processor,
        row: dict,
        journal: Journal,
        registry: Registry | None = None,
        idle_runs: IdleRuns | None = None,
        shutdown: Shutdown | None = None,
    ):
        self.processor = processor
        self.registry = registry or Registry()
        self.idle_runs = idle_runs if idle_runs is not None else IdleRuns()
        self.row = row
        self.journal = journal
        self.execution_id: str = row["id"]
        self.routing_key: bytes = names.row_routing_key(row).encode()
        self.state = _RUNNING
        self.active = 0
        self.recording = 0  # of ``active``: records appended, waiting for their fold (no body running)
        self.parked: dict[int, int | None] = {}
        self.task: asyncio.Task | None = None
        self.cancel_reason: str | None = (row.get("cancel") or {}).get("reason")
        self.terminate: bool = bool((row.get("cancel") or {}).get("terminate"))  # stop now, not at the next step
        self.idle_token = 0  # bumped whenever the run does something; an eviction check must see it unchanged
        self.ctx = None  # its WorkflowContext, once the body runs
        self.recorded_state: str | None = row.get("state")  # the last state on the log (as of the row)
        self.shutdown = shutdown or Shutdown()
        self._seq = 0

    def _move(self, event: RunEvent) -> None:
        try:
            self.state = TRANSITIONS[self.state, event]  # next_state, without the call: it runs at every step
        except KeyError:
            raise IllegalTransition(f"a {self.state} run cannot take {event}") from None

    # -- the port: what the workflow layer asks of the runtime ---------------------------

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def peek_seq(self) -> int:
        return self._seq + 1

    def check_cancelled(self) -> None:
        """At every step and wait: stop here if the execution was asked to stop, or if the
        worker is shutting down or giving its partition up (its next owner goes on from here)."""
        if self.cancel_reason is not None:
            raise CancelledByRequest(self.cancel_reason)
        if self.shutdown.draining or self.processor.draining:
            raise Draining()

    def checkpoint(self, or_none: bool = False) -> str | None:
        """The state's JSON to record with a step, or None if it is as last recorded.

        ``StateTooLargeError`` past 1 MB (None instead with ``or_none``).
        """
        try:
            text = dump_state(self.ctx.state if self.ctx else None, self.execution_id)
        except StateTooLargeError:
            if or_none:
                return None
            raise
        if text == self.recorded_state:
            return None
        self.recorded_state = text
        return text

    async def record_step(self, build: RecordBuilder, seq: int, key: str, **fields) -> dict:
        """1. build the record with the owner's epoch, 2. append it, 3. wait for its fold;
        returns the entry the fold kept at this position."""
        self.busy()
        self.recording += 1
        try:
            record = build(self.execution_id, self.processor.epoch, now_ms(), seq=seq, key=key, **fields)
            entry = await self.processor.append_and_wait(self.routing_key, record, (self.execution_id, seq))
        finally:
            self.recording -= 1
            self.idle()
        self.journal.remember(seq, entry)
        return entry

    def ownership_in_doubt(self) -> bool:
        """Whether the worker has not heard from its group for ``MEMBERSHIP_STALE_S``: the
        process was paused, perhaps past its session, and its partitions may be another's."""
        membership = self.shutdown.membership
        return membership is not None and time.monotonic() - membership.alive_at > MEMBERSHIP_STALE_S

    async def confirm_ownership(self) -> None:
        """Before a step body, after a pause: wait until the worker knows again that it is in
        its group. If it was not, its partitions are taken from it meanwhile, and this run
        is cancelled, never starting the body that the partition's next owner runs."""
        await self.shutdown.membership.until_alive()
        if not self.processor.active:
            raise Fenced(f"partition {self.processor.partition} is no longer owned here")

    def busy(self) -> None:
        self.active += 1
        self._not_idle()

    def idle(self) -> None:
        self.active -= 1
        if self.active == 0 and self.parked:
            self._now_idle()

    async def park(self, seq: int, due_at_ms: int | None) -> dict:
        """Wait, without holding a worker busy, until the fold ends the wait at ``seq``."""
        key = (self.execution_id, seq)
        waiter = self.processor.waiter(key)
        entry = self.processor.store.get(journal_key(self.execution_id, seq))
        if entry is not None and entry["status"] != _WAITING:  # ended before we got here
            self.processor.forget_waiter(key, waiter)
        else:
            self.parked[seq] = due_at_ms
            if self.active == 0:
                self._now_idle()
            try:
                entry = await waiter
            finally:
                self.parked.pop(seq, None)
                self._not_idle()
                self.processor.forget_waiter(key, waiter)  # evicted: nothing stays behind
        self.journal.remember(seq, entry)
        return entry

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> tuple[int, int]:
        return await self.processor.log.publish(topic, key, value)

    async def stream_topic(self) -> str:
        log = self.processor.log
        topic = names.stream_topic(log.namespace)
        await log.ensure_topic(topic, log.num_partitions)
        return topic

    def publish_nowait(self, topic: str, key: bytes, value: bytes) -> asyncio.Future:
        return asyncio.ensure_future(self.processor.log.publish(topic, key, value))

    def session_state(self, session_id: str) -> dict:
        return self.processor.store.get(session_state_key(session_id)) or {}

    # -- idle, evicted ------------------------------------------------------------------

    def _now_idle(self) -> None:
        self.idle_token += 1
        self._move(_ALL_PARKED)
        if self.row.get("queue") and self.processor.active:  # it gives its queue slot back
            ack = self.append(records.run_parked, waits=sorted(self.parked))
            ack.add_done_callback(log_failure)
        if self.state is _IDLE:
            self.idle_runs.add(self)

    def _not_idle(self) -> None:
        self.idle_token += 1  # an eviction check scheduled before now no longer applies
        if self.state is not _RUNNING:  # (running, work) -> running: most calls change nothing
            self._move(_WORK)
        self.idle_runs.discard(self)

    def maybe_evict(self, idle_token: int) -> bool | None:
        """Evict the run if it is still idle as of ``idle_token``: True if it was; False if it
        is kept because a timer of it is due within ``KEEP_IN_MEMORY_MS``; None if it is not
        idle any more."""
        if idle_token != self.idle_token or self.state is not _IDLE or self.task is None:
            return None
        soon_ms = now_ms() + KEEP_IN_MEMORY_MS
        if any(due is not None and due < soon_ms for due in self.parked.values()):
            return False
        self._move(_EVICT)
        self.idle_runs.discard(self)
        log.debug("execution %s evicted while it waits for %s", self.execution_id, sorted(self.parked))
        self.task.cancel()
        return True

    def woken(self) -> None:
        """The fold ended a wait of this run, or asked it to stop: if it is being evicted,
        it must start again once its task is gone (its parked waiters are resolved otherwise)."""
        if self.state in _BEING_EVICTED:
            self._move(_WAKE)

    def stop(self) -> None:
        """Cancel the task now to record the cancellation: nothing of the run is running, or
        it is terminated (the outcome of a step in flight is not recorded)."""
        self._move(_STOP)
        self.task.cancel()

    # -- records of the execution's own life ----------------------------------------------

    def append(self, build: RecordBuilder, at_ms: int | None = None, **fields) -> asyncio.Future[int]:
        """Append a record of this execution (not awaited by the caller)."""
        record = build(self.execution_id, self.processor.epoch, at_ms or now_ms(), **fields)
        return self.processor.append(self.routing_key, record)

    def record_cancelled(self) -> None:
        ack = self.append(
            records.execution_cancelled, reason=self.cancel_reason or "cancelled", terminated=self.terminate
        )
        ack.add_done_callback(log_failure)

    async def finish(self, build: RecordBuilder, **fields) -> dict:
        """Append the execution's end and wait until it is folded; the ended row."""
        record = build(self.execution_id, self.processor.epoch, now_ms(), **fields)
        return await self.processor.append_and_wait(self.routing_key, record, (self.execution_id, "end"))


def log_failure(ack: asyncio.Future) -> None:
    if not ack.cancelled() and ack.exception() is not None:
        log.warning("append failed: %s", ack.exception())
