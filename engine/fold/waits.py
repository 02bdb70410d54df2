"""The fold's rules for durable sleeps and suspensions (rule 4).

4. Waits. ``TimerScheduled`` and ``Suspended`` open a wait at a position: the entry is
   ``waiting``, the execution is ``waiting`` while any wait is open, and a due time goes
   into the timer index. ``TimerFired`` ends a sleep, or times a wait out; at position 0
   it is the run timeout, which requests cancellation (rule 5). ``ResumeRequested`` ends
   the suspension with that name; one that arrives before its suspension is kept and
   ends it the moment it opens. The first ending wins: a resume of a suspension that
   already ended is a duplicate (wait names are unique in a run, so it could never be
   used), and so is a second resume kept for one that has not opened.
"""

from __future__ import annotations

from ..wire.records import RecordType
from .effects import Effect, EffectKind, duplicate, step
from .executions import request_cancel
from .keys import early_resume_key, execution_key, journal_key, journal_prefix, suspension_key, timer_key
from .rows import DEADLINE_SEQ, EntryKind, EntryStatus, active_row, close_wait, completed, failed, open_wait
from .state import State


def timer_scheduled(state: State, r: dict) -> list[Effect]:
    entry = {
        "key": r["key"],
        "status": EntryStatus.WAITING,
        "kind": EntryKind.TIMER,
        "due_at": r["due_at"],
        "attempt": 1,
        "at": r["at"],
    }
    row, effects = open_wait(state, r, entry, r["due_at"])
    if row is None:
        return effects
    state.put(execution_key(row["id"]), row)
    return [step(row["id"], r["seq"], entry), Effect(EffectKind.TIMER, row["id"], r["due_at"])]


def suspended(state: State, r: dict) -> list[Effect]:
    entry = {
        "key": r["key"],
        "status": EntryStatus.WAITING,
        "kind": EntryKind.SUSPEND,
        "data": r["data"],
        "timeout_at": r.get("timeout_at"),
        "attempt": 1,
        "at": r["at"],
    }
    row, effects = open_wait(state, r, entry, r.get("timeout_at"))
    if row is None:
        return effects
    execution_id = row["id"]
    early = state.get(early_resume_key(execution_id, r["key"]))
    if early is not None:  # the resume came first: it ends the wait at once
        state.delete(early_resume_key(execution_id, r["key"]))
        return close_wait(state, row, r["seq"], completed(entry, early["data"]))
    state.put(suspension_key(execution_id, r["key"]), {"seq": r["seq"]})
    state.put(execution_key(execution_id), row)
    effects = [step(execution_id, r["seq"], entry)]
    if r.get("timeout_at") is not None:
        effects.append(Effect(EffectKind.TIMER, execution_id, r["timeout_at"]))
    return effects


def timer_fired(state: State, r: dict) -> list[Effect]:
    execution_id, seq = r["execution_id"], r["seq"]
    index = timer_key(r["due_at"], execution_id, seq)
    state.delete(index)  # always: a timer of an ended execution must not fire again
    done = Effect(EffectKind.TIMER_DONE, execution_id, index)
    row, ignored = active_row(state, r)
    if seq == DEADLINE_SEQ:  # the run timeout
        if row is None:
            return [done, *ignored]
        return [done, *request_cancel(state, row, "run timeout: still running at its deadline", r["at"])]
    entry = state.get(journal_key(execution_id, seq)) if row is not None else None
    if entry is None or entry["status"] != EntryStatus.WAITING:
        return [done, *(ignored or [duplicate(execution_id, "wait already ended")])]
    if entry["kind"] == EntryKind.TIMER:
        ended = completed(entry, "null")
    else:
        ended = failed(
            entry,
            {
                "code": "TIMEOUT",
                "type": "WaitTimeoutError",
                "step": entry["key"],
                "message": f"wait {entry['key']!r} of execution {execution_id} timed out",
            },
        )
    return [done, *close_wait(state, row, seq, ended)]


def resume_requested(state: State, r: dict) -> list[Effect]:
    row, ignored = active_row(state, r)
    if row is None:
        return ignored
    execution_id, name = row["id"], r["name"]
    suspension = state.get(suspension_key(execution_id, name))
    if suspension is None:
        ended = _ended_wait(state, execution_id, name)
        if ended is not None:
            how = "timed out" if ended["status"] == EntryStatus.FAILED else "was resumed"
            return [duplicate(execution_id, f"the wait {name!r} already ended: it {how}")]
        if state.get(early_resume_key(execution_id, name)) is not None:
            return [duplicate(execution_id, f"a resume of {name!r} is already waiting")]
        state.put(early_resume_key(execution_id, name), {"data": r["data"], "at": r["at"]})
        return [Effect(EffectKind.BUFFERED, execution_id, f"kept until the workflow suspends at {name!r}")]
    seq = suspension["seq"]
    entry = state.get(journal_key(execution_id, seq))
    return close_wait(state, row, seq, completed(entry, r["data"]))


def _ended_wait(state: State, execution_id: str, name: str) -> dict | None:
    """The journal entry of a suspension ``name`` that has ended, if there is one."""
    for _, entry in state.scan(journal_prefix(execution_id)):
        if entry["key"] == name and entry.get("kind") == EntryKind.SUSPEND:
            return entry if entry["status"] != EntryStatus.WAITING else None
    return None


RULES = {
    RecordType.TIMER_SCHEDULED: timer_scheduled,
    RecordType.TIMER_FIRED: timer_fired,
    RecordType.SUSPENDED: suspended,
    RecordType.RESUME_REQUESTED: resume_requested,
}
