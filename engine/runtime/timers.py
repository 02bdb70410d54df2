"""The owner's timers: it appends ``TimerFired`` when a timer in the store's index is due.

The timer index (``t/<due ms>/<execution>/<seq>``, ``fold/keys.py``) is ordered by due
time, so the earliest timer is its first key. One loop timer is armed for the earliest
firing time; when it goes off:

1. append ``TimerFired`` for every timer due to fire and not already in flight,
2. arm the loop timer again for the next one.

A cron schedule's timer appends ``ScheduleTicked`` instead, with the ticks that are due
(``schedule_ticks.py``).

A timer whose ``TimerFired`` fails to append is fired again. The fold removes a timer
from the index when its ``TimerFired`` (or the end of its wait) is applied
(``EffectKind.TIMER_DONE``).

A sleep's ``TimerFired`` is appended up to ``SLEEP_LEAD_MS`` before it is due: the
record's trip through the log and the run's replay overlap the end of the sleep, and the
workflow itself waits until the recorded due time before it goes on (``workflow/steps.py``).
Wait timeouts and run deadlines fire only when due: firing them early would cut the wait
short.
"""

from __future__ import annotations

import asyncio
from functools import partial

from ..clock import now_ms, seconds_until
from ..fold.keys import TIMER_PREFIX, parse_timer_key
from ..wire import records
from .schedule_ticks import tick_record

# A sleep's TimerFired is written this much before it is due.
SLEEP_LEAD_MS = 250
RETRY_AFTER_FAILED_APPEND_S = 0.5


def _fires_at_ms(due_at_ms: int, index: dict) -> int:
    return due_at_ms - SLEEP_LEAD_MS if index.get("sleep") else due_at_ms


class Timers:
    """The timer wheel of one partition processor."""

    def __init__(self, processor):
        self._processor = processor
        self._handle: asyncio.TimerHandle | None = None
        self._armed_at_ms: int | None = None
        self._firing: set[bytes] = set()  # timer index keys whose TimerFired is in flight

    def schedule(self) -> None:
        """Arm one loop timer for the earliest firing time in the timer index."""
        processor = self._processor
        if not processor.active:
            return
        at_ms = None
        for key, index in processor.store.scan(TIMER_PREFIX):
            due_at_ms, _, _ = parse_timer_key(key)
            if at_ms is not None and due_at_ms - SLEEP_LEAD_MS >= at_ms:
                break  # the index is ordered by due time: nothing later fires sooner
            if key not in self._firing:
                fires = _fires_at_ms(due_at_ms, index)
                at_ms = fires if at_ms is None else min(at_ms, fires)
        if at_ms is None:
            return
        if self._handle is not None:
            if self._armed_at_ms is not None and self._armed_at_ms <= at_ms:
                return
            self._handle.cancel()
        loop = asyncio.get_running_loop()
        self._armed_at_ms = at_ms
        self._handle = loop.call_at(loop.time() + max(0.0, seconds_until(at_ms)), self._fire_due)

    def _fire_due(self) -> None:
        """1. append TimerFired for every timer due to fire and not already in flight, 2. re-arm."""
        self._handle = self._armed_at_ms = None
        processor = self._processor
        if not processor.active:
            return
        now = now_ms()
        for key, index in processor.store.scan(TIMER_PREFIX):
            due_at_ms, execution_id, seq = parse_timer_key(key)
            if due_at_ms - SLEEP_LEAD_MS > now:
                break
            if key in self._firing or _fires_at_ms(due_at_ms, index) > now:
                continue
            self._firing.add(key)
            if "schedule" in index:  # a cron schedule's next tick
                record = tick_record(processor.store, processor.epoch, index["schedule"], due_at_ms, now_ms())
            elif "queue" in index:  # a queue key's rate limit: a token is back
                record = records.queue_ticked(
                    processor.epoch, now_ms(), queue=index["queue"], key=index["queue_key"], due_at=due_at_ms
                )
            else:
                record = records.timer_fired(
                    execution_id, processor.epoch, now_ms(), seq=seq, key=index["key"], due_at=due_at_ms
                )
            ack = processor.append(index["routing"].encode(), record)
            ack.add_done_callback(partial(self._fire_appended, key))
        self.schedule()

    def _fire_appended(self, key: bytes, ack: asyncio.Future) -> None:
        if ack.cancelled() or ack.exception() is not None:
            self._firing.discard(key)  # not on the log: fire it again
            if self._processor.active:
                asyncio.get_running_loop().call_later(RETRY_AFTER_FAILED_APPEND_S, self.schedule)

    def in_flight(self) -> int:
        """Timers whose ``TimerFired`` is appended and not yet folded."""
        return len(self._firing)

    def done(self, key: bytes) -> None:
        """The fold removed ``key`` from the index."""
        self._firing.discard(key)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = self._armed_at_ms = None
