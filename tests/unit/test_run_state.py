"""An execution run's life in memory is one named state, moved only by legal transitions."""

import asyncio

import pytest

from engine.clock import now_ms
from engine.runtime.idle_runs import IdleRuns
from engine.runtime.run import ExecutionRun
from engine.runtime.run_state import TRANSITIONS, IllegalTransition, RunEvent, RunState, next_state
from engine.workflow.journal import Journal

S, E = RunState, RunEvent


def test_the_life_of_a_run_that_waits_is_evicted_and_woken():
    state = S.RUNNING
    for event, expected in [
        (E.WORK, S.RUNNING),
        (E.ALL_PARKED, S.IDLE),
        (E.WORK, S.RUNNING),  # its wait ended: the coroutine goes on in memory
        (E.ALL_PARKED, S.IDLE),
        (E.EVICT, S.EVICTED),
        (E.WORK, S.EVICTED),  # its cancelled branches unwind
        (E.WAKE, S.EVICTED_WOKEN),
        (E.WAKE, S.EVICTED_WOKEN),
    ]:
        state = next_state(state, event)
        assert state is expected, (event, state)


@pytest.mark.parametrize("start", [S.RUNNING, S.IDLE])
def test_a_run_stops_from_running_or_idle_and_stays_stopping(start):
    state = next_state(start, E.STOP)
    assert state is S.STOPPING
    assert [next_state(state, e) for e in (E.WORK, E.ALL_PARKED, E.STOP)] == [S.STOPPING] * 3


@pytest.mark.parametrize(
    "state,event",
    [
        (S.RUNNING, E.EVICT),  # only an idle run is evicted
        (S.RUNNING, E.WAKE),  # a wake of a run in memory resolves its waiter, no transition
        (S.IDLE, E.WAKE),
        (S.EVICTED, E.EVICT),
        (S.EVICTED, E.STOP),  # an evicted run asked to stop is woken, and stops once started again
        (S.EVICTED_WOKEN, E.EVICT),
        (S.STOPPING, E.EVICT),
        (S.STOPPING, E.WAKE),
    ],
)
def test_illegal_transitions_are_refused(state, event):
    assert (state, event) not in TRANSITIONS
    with pytest.raises(IllegalTransition, match=f"{state}.*{event}"):
        next_state(state, event)


class EmptyStore:
    def get(self, key: bytes) -> None:
        return None  # no wait has ended before the run parks on it


class FakeProcessor:
    """The slice of a partition processor a run uses to park (no log, no fold)."""

    epoch = 1

    def __init__(self):
        self.store = EmptyStore()
        self.waiters: dict[tuple, asyncio.Future] = {}

    def waiter(self, key):
        self.waiters[key] = asyncio.get_running_loop().create_future()
        return self.waiters[key]

    def forget_waiter(self, key, waiter):
        self.waiters.pop(key, None)
        waiter.cancel()


async def test_a_parked_run_is_idle_until_its_wait_ends_and_is_evicted_after_its_idle_time():
    processor = FakeProcessor()
    idle = IdleRuns(capacity=10, evict_after_s=0.05)
    run = ExecutionRun(processor, {"id": "e1", "workflow": "wf"}, Journal("e1"), idle_runs=idle)

    async def body():
        entry = await run.park(1, None)
        assert run.state is S.RUNNING and len(idle) == 0, "a wait that ended makes the run run again"
        return entry

    run.task = asyncio.create_task(body())
    await asyncio.sleep(0.01)
    assert run.state is S.IDLE and len(idle) == 1
    processor.waiters[("e1", 1)].set_result({"key": "k", "status": "completed", "result": "1"})
    assert (await run.task)["result"] == "1"

    run.task = asyncio.create_task(run.park(2, None))
    await asyncio.sleep(0.2)  # past evict_after_s
    assert run.state is S.EVICTED and len(idle) == 0 and run.task.cancelled()
    run.woken()
    assert run.state is S.EVICTED_WOKEN, "the invoker starts it again from the store once its task is gone"


async def test_a_run_waiting_on_something_due_soon_is_not_evicted():
    run = ExecutionRun(FakeProcessor(), {"id": "e1", "workflow": "wf"}, Journal("e1"), idle_runs=IdleRuns(10, 0.01))
    run.task = asyncio.create_task(run.park(1, now_ms() + 200))
    await asyncio.sleep(0.1)
    assert run.state is S.IDLE and not run.task.done(), "a sleep ending within a second stays in memory"
    run.task.cancel()
