"""The worker's cache of idle runs: bounded by count and by idle time, with one timer."""

import asyncio

from engine.runtime.idle_runs import IdleRuns


class FakeRun:
    """A run as IdleRuns sees it: a token, and whether it lets itself be evicted."""

    def __init__(self, name: str, keep: int = 0):
        self.name = name
        self.idle_token = 0
        self.keep = keep  # times it declines (a timer of it is due soon)
        self.evicted_at: float | None = None

    def maybe_evict(self, token: int):
        if token != self.idle_token:
            return None
        if self.keep:
            self.keep -= 1
            return False
        self.evicted_at = asyncio.get_running_loop().time()
        return True


async def test_runs_idle_longer_than_the_limit_are_evicted_oldest_first():
    idle = IdleRuns(capacity=100, evict_after_s=0.1)
    loop = asyncio.get_running_loop()
    start = loop.time()
    first, second = FakeRun("first"), FakeRun("second")
    idle.add(first)
    await asyncio.sleep(0.05)
    idle.add(second)

    await asyncio.sleep(0.2)

    assert first.evicted_at is not None and second.evicted_at is not None
    assert first.evicted_at - start >= 0.1 and second.evicted_at - first.evicted_at >= 0.04
    assert len(idle) == 0


async def test_a_run_that_woke_is_not_evicted_and_one_about_to_wake_is_offered_again():
    idle = IdleRuns(capacity=100, evict_after_s=0.05)
    woke, soon = FakeRun("woke"), FakeRun("soon", keep=1)
    idle.add(woke)
    idle.add(soon)
    woke.idle_token += 1
    idle.discard(woke)

    await asyncio.sleep(0.2)

    assert woke.evicted_at is None
    assert soon.evicted_at is not None and soon.keep == 0  # declined once, evicted the second time
    assert len(idle) == 0


async def test_past_the_capacity_the_longest_idle_go_at_once():
    idle = IdleRuns(capacity=2, evict_after_s=60)
    runs = [FakeRun(str(i)) for i in range(5)]
    for run in runs:
        idle.add(run)

    assert [run.evicted_at is not None for run in runs] == [True, True, True, False, False]
    assert len(idle) == 2


async def test_while_runs_wait_for_room_a_run_that_goes_idle_makes_room():
    idle = IdleRuns(capacity=100, evict_after_s=60)
    waiting_for_room = [1]
    idle.room_wanted = waiting_for_room.__len__
    first, second = FakeRun("first"), FakeRun("second")

    idle.add(first)
    waiting_for_room.clear()
    idle.add(second)

    assert first.evicted_at is not None and second.evicted_at is None
    assert len(idle) == 1
