"""The life of one ``ExecutionRun`` in memory, as a named state with legal transitions.

::

                work                      evict                     wake
    RUNNING <--------- IDLE ---------------------> EVICTED -------------> EVICTED_WOKEN
       |  ------------->  |
       |   all parked     | stop
       | stop             v
       +-------------> STOPPING

* ``RUNNING``: its code runs: a step body, an append waiting for its fold, or the code
  between steps.
* ``IDLE``: every branch is parked on an open wait and nothing runs. The run stays in
  memory (``IdleRuns``), so a wake continues the coroutine without a replay.
* ``EVICTED``: it was idle too long (or too many runs were idle): its task is being
  cancelled, and the execution lives on only as rows in the store.
* ``EVICTED_WOKEN``: a wait of it ended, or it was asked to stop, while it was being
  evicted: once the task is gone, the invoker starts it again from the store.
* ``STOPPING``: asked to stop while nothing of it ran: its task is cancelled, then
  ``ExecutionCancelled`` is recorded.

While a task is being cancelled (the last three states), its branches unwind and report
work and parking: that changes nothing.
"""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    RUNNING = "running"
    IDLE = "idle"
    EVICTED = "evicted"
    EVICTED_WOKEN = "evicted_woken"
    STOPPING = "stopping"


class RunEvent(StrEnum):
    WORK = "work"  # a step body or an append starts, or a wait ended
    ALL_PARKED = "all_parked"  # nothing runs, and waits are open
    EVICT = "evict"  # idle too long, or too many runs idle
    WAKE = "wake"  # the fold ended a wait of the run, or asked it to stop
    STOP = "stop"  # cancel it now: nothing of it runs


S, E = RunState, RunEvent
UNWINDING = (S.EVICTED, S.EVICTED_WOKEN, S.STOPPING)

TRANSITIONS: dict[tuple[RunState, RunEvent], RunState] = {
    (S.RUNNING, E.WORK): S.RUNNING,
    (S.RUNNING, E.ALL_PARKED): S.IDLE,
    (S.RUNNING, E.STOP): S.STOPPING,
    (S.IDLE, E.WORK): S.RUNNING,
    (S.IDLE, E.ALL_PARKED): S.IDLE,  # another branch parked too
    (S.IDLE, E.EVICT): S.EVICTED,
    (S.IDLE, E.STOP): S.STOPPING,
    (S.EVICTED, E.WAKE): S.EVICTED_WOKEN,
    (S.EVICTED_WOKEN, E.WAKE): S.EVICTED_WOKEN,
    (S.STOPPING, E.STOP): S.STOPPING,
    **{(state, event): state for state in UNWINDING for event in (E.WORK, E.ALL_PARKED)},
}


class IllegalTransition(RuntimeError):
    """An engine bug: a run was moved in a way its life does not allow."""


def next_state(state: RunState, event: RunEvent) -> RunState:
    try:
        return TRANSITIONS[state, event]
    except KeyError:
        raise IllegalTransition(f"a {state} run cannot take {event}") from None
