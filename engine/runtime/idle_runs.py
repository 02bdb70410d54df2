"""The runs of a worker whose every branch waits, kept in memory for a while."""

from __future__ import annotations

import asyncio

# A run whose every branch waits stays in memory (a wake continues it, no replay) until it
# has been idle this long, or until more than MAX_IDLE_RUNS runs idle in this worker: then
# the longest idle goes first. Evicted, a run costs no memory; a wake replays it.
EVICT_AFTER_IDLE_S = 60.0
MAX_IDLE_RUNS = 1000


class IdleRuns:
    """Idle runs, longest idle first (like Temporal's sticky cache of workflows, bounded by
    count and by idle time)."""

    def __init__(self, capacity: int = MAX_IDLE_RUNS, evict_after_s: float = EVICT_AFTER_IDLE_S):
        self.capacity = capacity
        self.evict_after_s = evict_after_s
        self._runs: dict = {}  # ExecutionRun -> None, in insertion order: longest idle first

    def __len__(self) -> int:
        return len(self._runs)

    def add(self, run) -> None:
        self._runs.pop(run, None)
        self._runs[run] = None
        asyncio.get_running_loop().call_later(self.evict_after_s, run.maybe_evict, run.idle_token)
        while len(self._runs) > self.capacity:
            oldest = next(iter(self._runs))
            del self._runs[oldest]
            oldest.maybe_evict(oldest.idle_token)

    def discard(self, run) -> None:
        self._runs.pop(run, None)
