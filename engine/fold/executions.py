"""The fold's rules for executions, steps and cancellation (rules 2, 3 and 5).

2. Executions. The first ``InvocationRequested`` for an execution id creates it
   (``pending``); later ones are duplicates. ``ExecutionStarted`` moves it to
   ``running``. ``ExecutionCompleted``/``ExecutionFailed`` end it; after that, nothing
   about it changes. An end also reports to a parent, cancels the open children of a
   cancelled run (``children.py``) and passes on its session's turn (``sessions.py``).
3. Steps. The first record that ends a step (``StepCompleted`` or ``StepFailed``) at a
   position wins; later ones are duplicates and the effect repeats the winner.
   ``StepAttemptFailed`` records a retry that is due at ``retry_at``.
5. Cancellation. ``CancelRequested``, or the run timeout's ``TimerFired`` (position 0,
   ``waits.py``), marks an active execution as to be cancelled; the owner stops it at
   its next step or wait and records ``ExecutionCancelled``, which ends it like a failure.
   With ``terminate`` the owner stops it at once, without waiting for the step in flight
   (a terminate after a cancel escalates it); its end is marked ``terminated``.
"""

from __future__ import annotations

from .. import names
from ..wire.records import RecordType
from . import children, queues, run_index, schedules, sessions
from .effects import Effect, EffectKind, duplicate, step
from .keys import active_key, execution_key, journal_key
from .rows import EntryStatus, Status, active_row, new_execution
from .state import State

# Members read once per record, as module names (docs/architecture.md: enum members on hot paths).
_COMPLETED, _FAILED, _RETRYING = EntryStatus.COMPLETED, EntryStatus.FAILED, EntryStatus.RETRYING
_PENDING, _RUNNING, _ENDED_OK = Status.PENDING, Status.RUNNING, Status.COMPLETED
_INVOKED, _STARTED, _FINISHED = EffectKind.INVOKED, EffectKind.STARTED, EffectKind.FINISHED


def invocation_requested(state: State, r: dict) -> list[Effect]:
    execution_id = r["execution_id"]
    if state.get(execution_key(execution_id)) is not None:
        return [duplicate(execution_id, "execution already exists"), *children.report_again(state, execution_id)]
    if r.get("queue") is None:
        return new_execution(state, r)
    effects = new_execution(state, dict(r, routing=names.invocation_routing_key(execution_id, None, r["queue"])))
    return queues.admit(state, state.get(execution_key(execution_id)), r["queue"], effects)


def execution_started(state: State, r: dict) -> list[Effect]:
    row, ignored = active_row(state, r)
    if row is None:
        return ignored
    if row["status"] != _PENDING:
        return [duplicate(row["id"], "already started")]
    row["status"] = _RUNNING
    row["started_at"] = r["at"]
    state.put(execution_key(row["id"]), row)
    return [Effect(_STARTED, row["id"], row)]


def _step_outcome(state: State, r: dict, outcome: dict, attempt_failed: bool = False) -> list[Effect]:
    """The first outcome at a position wins; a failed attempt only replaces an earlier attempt."""
    row, ignored = active_row(state, r)
    if row is None:
        return ignored
    execution_id, seq = row["id"], r["seq"]
    key = journal_key(execution_id, seq)
    existing = state.get(key)
    if existing is not None and (
        existing["status"] != _RETRYING or attempt_failed and r["attempt"] <= existing["attempt"]
    ):
        return [step(execution_id, seq, existing), duplicate(execution_id, "step already recorded")]
    entry = {"key": r["key"], "attempt": r["attempt"], "at": r["at"], **outcome}
    if r.get("state") is not None:  # the state checkpoint that came with this step
        row["state"] = r["state"]
        state.put(execution_key(execution_id), row)
    state.put(key, entry)
    return [step(execution_id, seq, entry)]


def step_completed(state: State, r: dict) -> list[Effect]:
    return _step_outcome(state, r, {"status": _COMPLETED, "result": r["result"]})


def step_failed(state: State, r: dict) -> list[Effect]:
    return _step_outcome(state, r, {"status": _FAILED, "error": r["error"]})


def step_attempt_failed(state: State, r: dict) -> list[Effect]:
    return _step_outcome(state, r, {"status": _RETRYING, "error": r["error"], "retry_at": r["retry_at"]}, True)


def execution_completed(state: State, r: dict) -> list[Effect]:
    return _end(state, r, {"status": _ENDED_OK, "result": r["result"]})


def execution_failed(state: State, r: dict) -> list[Effect]:
    return _end(state, r, {"status": Status.FAILED, "error": r["error"]})


def execution_cancelled(state: State, r: dict) -> list[Effect]:
    if r.get("terminated"):
        error = {"code": "TERMINATED", "type": "ExecutionTerminated", "message": r["reason"], "step": None}
    else:
        error = {"code": "CANCELLED", "type": "ExecutionCancelled", "message": r["reason"], "step": None}
    return _end(state, r, {"status": Status.CANCELLED, "error": error})


def _end(state: State, r: dict, outcome: dict) -> list[Effect]:
    row, ignored = active_row(state, r)
    if row is None:
        return ignored
    row.update(outcome)
    row["completed_at"] = r["at"]
    row["waits"] = {}
    if r.get("state") is not None:
        row["state"] = r["state"]
    state.put(execution_key(row["id"]), row)
    state.delete(active_key(row["id"]))
    run_index.on_ended(state, row)
    # What else an end does: report to its parent, cancel its children, free its session,
    # give its schedule's next tick its turn.
    effects = [Effect(_FINISHED, row["id"], row), *children.on_ended(state, row), *sessions.on_ended(state, row)]
    if "@" in row["id"]:  # perhaps a run of a schedule (names.scheduled_run_schedule)
        effects += schedules.on_run_ended(state, row, r["at"])
    if row.get("queue"):
        effects += queues.on_run_ended(state, row, r["at"])
    return effects


def request_cancel(state: State, row: dict, reason: str, at_ms: int, terminate: bool = False) -> list[Effect]:
    earlier = row.get("cancel")
    if earlier and (earlier.get("terminate") or not terminate):
        return [duplicate(row["id"], "termination already requested" if earlier.get("terminate")
                          else "cancellation already requested")]  # fmt: skip
    row["cancel"] = {"reason": reason, "at": at_ms, "terminate": True} if terminate else {"reason": reason, "at": at_ms}
    state.put(execution_key(row["id"]), row)
    return [Effect(EffectKind.CANCEL, row["id"], row)]


def cancel_requested(state: State, r: dict) -> list[Effect]:
    row, ignored = active_row(state, r)
    if row is None:
        return ignored
    return request_cancel(state, row, r["reason"], r["at"], bool(r.get("terminate")))


RULES = {
    RecordType.INVOCATION_REQUESTED: invocation_requested,
    RecordType.EXECUTION_STARTED: execution_started,
    RecordType.STEP_COMPLETED: step_completed,
    RecordType.STEP_FAILED: step_failed,
    RecordType.STEP_ATTEMPT_FAILED: step_attempt_failed,
    RecordType.EXECUTION_COMPLETED: execution_completed,
    RecordType.EXECUTION_FAILED: execution_failed,
    RecordType.CANCEL_REQUESTED: cancel_requested,
    RecordType.EXECUTION_CANCELLED: execution_cancelled,
}
