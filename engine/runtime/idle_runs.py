"""The runs of a worker whose every branch waits, kept in memory for a while."""

from __future__ import annotations

import asyncio

# A run whose every branch waits stays in memory (a wake continues it, no replay) until it
# has been idle this long, or until more than MAX_IDLE_RUNS runs idle in this worker: then
# the longest idle goes first. Evicted, a run costs no memory; a wake replays it.
EVICT_AFTER_IDLE_S = 60.0
MAX_IDLE_RUNS = 1000
# Runs in memory at once, idle or not; more wait their turn to start (``Invoker.start``).
MAX_RUNS_IN_MEMORY = 5000


class IdleRuns:
    """Idle runs, longest idle first (like Temporal's sticky cache of workflows, bounded by
    count and by idle time).

    1. ``add`` puts a run last, with the time it went idle and its ``idle_token``;
    2. past ``capacity``, or while runs wait for room in memory (``room_wanted``), the
       longest idle are offered for eviction at once;
    3. one loop timer, armed for the longest idle run's expiry, offers every run idle for
       ``evict_after_s`` for eviction, then is armed again for the next. (One timer for all
       of them: a timer per run would hold memory for every run that ever went idle.)

    A run offered for eviction whose token changed (it woke) stays; one that is about to
    wake anyway (a timer due within ``KEEP_IN_MEMORY_MS``) goes back to the end."""

    def __init__(self, capacity: int = MAX_IDLE_RUNS, evict_after_s: float = EVICT_AFTER_IDLE_S):
        self.capacity = capacity
        self.evict_after_s = evict_after_s
        self._runs: dict = {}  # ExecutionRun -> (idle since, loop time; its idle_token), longest idle first
        self._sweep: asyncio.TimerHandle | None = None
        self.room_wanted = lambda: False  # the invoker's: whether runs wait for room to start

    def __len__(self) -> int:
        return len(self._runs)

    def add(self, run) -> None:
        loop = asyncio.get_running_loop()
        self._runs.pop(run, None)
        self._runs[run] = (loop.time(), run.idle_token)
        while len(self._runs) > self.capacity:
            oldest, (_, token) = next(iter(self._runs.items()))
            del self._runs[oldest]
            oldest.maybe_evict(token)
        if self.room_wanted():  # runs wait for room in memory: the longest idle makes it
            self.shed()
        if self._sweep is None and self._runs:
            self._arm(loop)

    def discard(self, run) -> None:
        self._runs.pop(run, None)

    def shed(self) -> None:
        """Offer the longest idle run for eviction now (room is needed in memory)."""
        if self._runs:
            oldest, (_, token) = next(iter(self._runs.items()))
            del self._runs[oldest]
            oldest.maybe_evict(token)

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        since, _ = next(iter(self._runs.values()))
        self._sweep = loop.call_at(since + self.evict_after_s, self._evict_expired)

    def _evict_expired(self) -> None:
        self._sweep = None
        loop = asyncio.get_running_loop()
        cutoff = loop.time() - self.evict_after_s
        while self._runs:
            run, (since, token) = next(iter(self._runs.items()))
            if since > cutoff:
                break
            del self._runs[run]
            if run.maybe_evict(token) is False and token == run.idle_token:
                self._runs[run] = (loop.time(), token)  # about to wake: offered again later
        if self._runs:
            self._arm(loop)
