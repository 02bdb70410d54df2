"""The fold: how one journal record changes a partition's state. Pure and deterministic.

``apply(state, record)`` reads and writes only ``state`` (see ``store.State``) and
returns events that tell the runtime what happened. It reads no clock (time comes from
the record's ``at``), draws no randomness, does no I/O and calls no user code, so
replaying a partition from offset 0, or applying a record twice, gives the same state.

Rules:

1. Fencing. ``PartitionClaimed`` with an epoch above the current one becomes the current
   claim; any other claim is rejected. A record written by an owner (``epoch > 0``) is
   accepted only if its epoch is the current one: a processor that lost its partition
   cannot change state any more. Client commands carry epoch 0 and are never fenced.
2. Executions. The first ``InvocationRequested`` for an execution id creates it
   (``pending``); later ones are duplicates. ``ExecutionStarted`` moves it to
   ``running``. ``ExecutionCompleted``/``ExecutionFailed`` end it; after that, nothing
   about it changes.
3. Steps. The first record that ends a step (``StepCompleted`` or ``StepFailed``) at a
   position wins; later ones are duplicates and the event repeats the winner.
   ``StepAttemptFailed`` records a retry that is due at ``retry_at``.
4. Waits. ``TimerScheduled`` and ``Suspended`` open a wait at a position: the entry is
   ``waiting``, the execution is ``waiting`` while any wait is open, and a due time goes
   into the timer index. ``TimerFired`` ends a sleep, or times a wait out.
   ``ResumeRequested`` ends the suspension with that name; one that arrives before its
   suspension is kept and ends it the moment it opens. The first ending wins.

5. Cancellation. ``CancelRequested``, or the run timeout's ``TimerFired`` (position 0),
   marks an active execution as to be cancelled; the owner stops it at its next step or
   wait and records ``ExecutionCancelled``, which ends it like a failure.

Rules 6-8, for waits on events from domain topics, are in ``fold_events.py``; rules 9-11,
for child workflows and recursive cancellation, in ``fold_children.py``; rule 12, for
session state, in ``fold_sessions.py``.
"""

from __future__ import annotations

from typing import NamedTuple

from .store import State

PENDING, RUNNING, WAITING = "pending", "running", "waiting"
COMPLETED, FAILED, CANCELLED = "completed", "failed", "cancelled"
ACTIVE = (PENDING, RUNNING, WAITING)
ENDED = (COMPLETED, FAILED, CANCELLED)
DEADLINE_SEQ = 0  # timer index position of an execution's run timeout (steps start at 1)
EPOCH_KEY = b"m/epoch"


class Event(NamedTuple):
    """What a record did. ``kind`` is one of the names below; ``data`` depends on it.

    claimed / claim_rejected: the claim dict · invoked / started / finished: the row ·
    step: (seq, entry) · fenced / ignored / duplicate: a reason string.
    """

    kind: str
    execution_id: str
    data: object


def execution_key(execution_id: str) -> bytes:
    return b"e/" + execution_id.encode()


def active_key(execution_id: str) -> bytes:
    return b"a/" + execution_id.encode()


def journal_prefix(execution_id: str) -> bytes:
    """``\\0`` ends the id: no id is a prefix of another's journal (ids may hold ``/``)."""
    return b"j/" + execution_id.encode() + b"\x00"


def journal_key(execution_id: str, seq: int) -> bytes:
    return journal_prefix(execution_id) + b"%010d" % seq


def timer_key(due_at: int, execution_id: str, seq: int) -> bytes:
    """Timer index: ordered by due time, so the first key is the next timer to fire."""
    return b"t/%016d/" % due_at + execution_id.encode() + b"/%010d" % seq


def parse_timer_key(key: bytes) -> tuple[int, str, int]:
    due, rest = key[2:18], key[19:]
    execution_id, seq = rest[:-11], rest[-10:]
    return int(due), execution_id.decode(), int(seq)


def suspension_key(execution_id: str, name: str) -> bytes:
    return b"s/" + execution_id.encode() + b"/" + name.encode()


def early_resume_key(execution_id: str, name: str) -> bytes:
    return b"r/" + execution_id.encode() + b"/" + name.encode()


def awaiting_key(execution_id: str, seq: int) -> bytes:
    """Open event waits on the waiter's partition (what its owner registers, and re-registers)."""
    return b"ea/" + execution_id.encode() + b"\x00%010d" % seq


def current_epoch(state: State) -> int:
    claim = state.get(EPOCH_KEY)
    return claim["epoch"] if claim else 0


def apply(state: State, record: dict) -> list[Event]:
    kind = record["type"]
    if kind == "PartitionClaimed":
        return _claim(state, record)
    epoch = record["epoch"]
    if epoch:
        current = current_epoch(state)
        if epoch != current:
            return [Event("fenced", record["execution_id"], f"epoch {epoch} is not the owner's epoch {current}")]
    handler = _HANDLERS.get(kind)
    if handler is None:  # a record type this version does not fold (written by a newer one)
        return [Event("ignored", record["execution_id"], f"no fold rule for {kind}")]
    return handler(state, record)


def _claim(state: State, record: dict) -> list[Event]:
    claim = {"epoch": record["epoch"], "owner": record["owner"], "at": record["at"]}
    if record["epoch"] > current_epoch(state):
        state.put(EPOCH_KEY, claim)
        return [Event("claimed", "", claim)]
    return [Event("claim_rejected", "", claim)]


def _invocation_requested(state: State, r: dict) -> list[Event]:
    execution_id = r["execution_id"]
    if state.get(execution_key(execution_id)) is not None:
        return [Event("duplicate", execution_id, "execution already exists"), *_report_again(state, execution_id)]
    row = {
        "id": execution_id,
        "workflow": r["workflow"],
        "status": PENDING,
        "input": r["input"],
        "user_id": r.get("user_id"),
        "session_id": r.get("session_id"),
        "parent_id": r.get("parent_execution_id"),
        "root_id": r.get("root_execution_id") or execution_id,
        "created_at": r["at"],
        "started_at": None,
        "completed_at": None,
        "result": None,
        "error": None,
        "waits": {},
        "initial_state": r.get("initial_state"),
        "state": r.get("initial_state"),
    }
    if r.get("parent_execution_id") and r.get("reply_key"):  # a child: it reports its end there
        row["parent"] = {"seq": r.get("parent_seq"), "reply_key": r["reply_key"]}
    events = [Event("invoked", execution_id, row)]
    if r.get("run_timeout_ms"):
        row["deadline"] = r["at"] + r["run_timeout_ms"]
        state.put(timer_key(row["deadline"], execution_id, DEADLINE_SEQ),
                  {"key": "run timeout", "routing": r.get("session_id") or execution_id})
        events.append(Event("timer", execution_id, row["deadline"]))
    state.put(execution_key(execution_id), row)
    state.put(active_key(execution_id), {})
    return events


def _active_row(state: State, r: dict) -> tuple[dict | None, list[Event]]:
    row = state.get(execution_key(r["execution_id"]))
    if row is None:
        return None, [Event("ignored", r["execution_id"], "unknown execution")]
    if row["status"] not in ACTIVE:
        return None, [Event("ignored", r["execution_id"], f"execution is {row['status']}")]
    return row, []


def _execution_started(state: State, r: dict) -> list[Event]:
    row, ignored = _active_row(state, r)
    if row is None:
        return ignored
    if row["status"] != PENDING:
        return [Event("duplicate", row["id"], "already started")]
    row["status"] = RUNNING
    row["started_at"] = r["at"]
    state.put(execution_key(row["id"]), row)
    return [Event("started", row["id"], row)]


def _step_outcome(state: State, r: dict) -> list[Event]:
    row, ignored = _active_row(state, r)
    if row is None:
        return ignored
    execution_id, seq = row["id"], r["seq"]
    key = journal_key(execution_id, seq)
    existing = state.get(key)
    if existing is not None and (existing["status"] != "retrying" or r["type"] == "StepAttemptFailed"
                                 and r["attempt"] <= existing["attempt"]):
        return [Event("step", execution_id, (seq, existing)), Event("duplicate", execution_id, "step already recorded")]
    entry = {"key": r["key"], "attempt": r["attempt"], "at": r["at"]}
    if r.get("state") is not None:  # the state checkpoint that came with this step
        row["state"] = r["state"]
        state.put(execution_key(execution_id), row)
    if r["type"] == "StepCompleted":
        entry.update(status="completed", result=r["result"])
    elif r["type"] == "StepFailed":
        entry.update(status="failed", error=r["error"])
    else:
        entry.update(status="retrying", error=r["error"], retry_at=r["retry_at"])
    state.put(key, entry)
    return [Event("step", execution_id, (seq, entry))]


def _execution_ended(state: State, r: dict) -> list[Event]:
    row, ignored = _active_row(state, r)
    if row is None:
        return ignored
    if r["type"] == "ExecutionCompleted":
        row.update(status=COMPLETED, result=r["result"])
    elif r["type"] == "ExecutionCancelled":
        row.update(status=CANCELLED, error={"code": "CANCELLED", "type": "ExecutionCancelled",
                                            "message": r["reason"], "step": None})
    else:
        row.update(status=FAILED, error=r["error"])
    row["completed_at"] = r["at"]
    row["waits"] = {}
    if r.get("state") is not None:
        row["state"] = r["state"]
    state.put(execution_key(row["id"]), row)
    state.delete(active_key(row["id"]))
    return [Event("finished", row["id"], row), *_on_ended(state, row)]


# -- waits -------------------------------------------------------------------------


def _open_wait(state: State, r: dict, entry: dict, due_at: int | None) -> tuple[dict | None, list[Event]]:
    """Common start of a wait: returns the row, or events for a duplicate/ignored record."""
    row, ignored = _active_row(state, r)
    if row is None:
        return None, ignored
    key = journal_key(row["id"], r["seq"])
    existing = state.get(key)
    if existing is not None:
        return None, [Event("step", row["id"], (r["seq"], existing)), Event("duplicate", row["id"], "wait already recorded")]
    state.put(key, entry)
    routing = (row.get("session_id") or row["id"])
    if due_at is not None:
        state.put(timer_key(due_at, row["id"], r["seq"]),
                  {"key": r["key"], "routing": routing, "sleep": entry["kind"] == "timer"})
    waits = row.setdefault("waits", {})
    waits[str(r["seq"])] = {k: v for k, v in entry.items()
                            if k in ("kind", "key", "due_at", "data", "topic", "event_key", "timeout_at", "child")}
    row["status"] = WAITING
    return row, []


def _close_wait(state: State, row: dict, seq: int, entry: dict, unregister: bool = True) -> list[Event]:
    """End the wait at ``seq`` with ``entry`` (completed or failed) and wake the execution.

    An event wait also tells its event partition to forget the registration, unless
    ``unregister`` is False: the event partition ended it itself, by a delivery."""
    execution_id = row["id"]
    state.put(journal_key(execution_id, seq), entry)
    due_at = entry.get("due_at") or entry.get("timeout_at")
    events = [Event("step", execution_id, (seq, entry))]
    if due_at is not None:
        state.delete(timer_key(due_at, execution_id, seq))
        events.append(Event("timer_done", execution_id, timer_key(due_at, execution_id, seq)))
    if entry.get("kind") == "suspend":
        state.delete(suspension_key(execution_id, entry["key"]))
    if entry.get("kind") == "event":
        state.delete(awaiting_key(execution_id, seq))
        if unregister:  # the event partition may forget this wait now
            events.append(Event("close_wait", execution_id, {"seq": seq, "topic": entry["topic"],
                                                             "event_key": entry.get("event_key")}))
    row.get("waits", {}).pop(str(seq), None)
    if not row.get("waits"):
        row["status"] = RUNNING
    state.put(execution_key(execution_id), row)
    events.append(Event("woken", execution_id, row))
    return events


def _timer_scheduled(state: State, r: dict) -> list[Event]:
    entry = {"key": r["key"], "status": "waiting", "kind": "timer", "due_at": r["due_at"], "attempt": 1, "at": r["at"]}
    row, events = _open_wait(state, r, entry, r["due_at"])
    if row is None:
        return events
    state.put(execution_key(row["id"]), row)
    return [Event("step", row["id"], (r["seq"], entry)), Event("timer", row["id"], r["due_at"])]


def _suspended(state: State, r: dict) -> list[Event]:
    entry = {"key": r["key"], "status": "waiting", "kind": "suspend", "data": r["data"],
             "timeout_at": r.get("timeout_at"), "attempt": 1, "at": r["at"]}
    row, events = _open_wait(state, r, entry, r.get("timeout_at"))
    if row is None:
        return events
    execution_id = row["id"]
    early = state.get(early_resume_key(execution_id, r["key"]))
    if early is not None:  # the resume came first: it ends the wait at once
        state.delete(early_resume_key(execution_id, r["key"]))
        return _close_wait(state, row, r["seq"], dict(entry, status="completed", result=early["data"]))
    state.put(suspension_key(execution_id, r["key"]), {"seq": r["seq"]})
    state.put(execution_key(execution_id), row)
    events = [Event("step", execution_id, (r["seq"], entry))]
    if r.get("timeout_at") is not None:
        events.append(Event("timer", execution_id, r["timeout_at"]))
    return events


def _timer_fired(state: State, r: dict) -> list[Event]:
    execution_id, seq = r["execution_id"], r["seq"]
    index = timer_key(r["due_at"], execution_id, seq)
    state.delete(index)  # always: a timer of an ended execution must not fire again
    done = Event("timer_done", execution_id, index)
    row, ignored = _active_row(state, r)
    if seq == DEADLINE_SEQ:  # the run timeout
        if row is None:
            return [done, *ignored]
        return [done, *_request_cancel(state, row, "run timeout: still running at its deadline", r["at"])]
    entry = state.get(journal_key(execution_id, seq)) if row is not None else None
    if entry is None or entry["status"] != "waiting":
        return [done, *(ignored or [Event("duplicate", execution_id, "wait already ended")])]
    if entry["kind"] == "timer":
        ended = dict(entry, status="completed", result="null")
    else:
        ended = dict(entry, status="failed", error={
            "code": "TIMEOUT", "type": "WaitTimeoutError", "step": entry["key"],
            "message": f"wait {entry['key']!r} of execution {execution_id} timed out"})
    return [done, *_close_wait(state, row, seq, ended)]


def _request_cancel(state: State, row: dict, reason: str, at: int) -> list[Event]:
    if row.get("cancel"):
        return [Event("duplicate", row["id"], "cancellation already requested")]
    row["cancel"] = {"reason": reason, "at": at}
    state.put(execution_key(row["id"]), row)
    return [Event("cancel", row["id"], row)]


def _cancel_requested(state: State, r: dict) -> list[Event]:
    row, ignored = _active_row(state, r)
    if row is None:
        return ignored
    return _request_cancel(state, row, r["reason"], r["at"])


def _resume_requested(state: State, r: dict) -> list[Event]:
    row, ignored = _active_row(state, r)
    if row is None:
        return ignored
    execution_id, name = row["id"], r["name"]
    suspension = state.get(suspension_key(execution_id, name))
    if suspension is None:
        if state.get(early_resume_key(execution_id, name)) is not None:
            return [Event("duplicate", execution_id, f"a resume of {name!r} is already waiting")]
        state.put(early_resume_key(execution_id, name), {"data": r["data"], "at": r["at"]})
        return [Event("buffered", execution_id, f"kept until the workflow suspends at {name!r}")]
    seq = suspension["seq"]
    entry = state.get(journal_key(execution_id, seq))
    return _close_wait(state, row, seq, dict(entry, status="completed", result=r["data"]))


_HANDLERS = {
    "InvocationRequested": _invocation_requested,
    "ExecutionStarted": _execution_started,
    "StepCompleted": _step_outcome,
    "StepFailed": _step_outcome,
    "StepAttemptFailed": _step_outcome,
    "ExecutionCompleted": _execution_ended,
    "ExecutionFailed": _execution_ended,
    "TimerScheduled": _timer_scheduled,
    "TimerFired": _timer_fired,
    "Suspended": _suspended,
    "ResumeRequested": _resume_requested,
    "CancelRequested": _cancel_requested,
    "ExecutionCancelled": _execution_ended,
}


# Rules 6-12 use the helpers above, so their modules are imported last.
from .fold_children import HANDLERS as _CHILD_HANDLERS, on_ended as _children_ended, report_again as _report_again  # noqa: E402
from .fold_events import HANDLERS as _EVENT_HANDLERS  # noqa: E402
from .fold_sessions import HANDLERS as _SESSION_HANDLERS, on_ended as _session_ended  # noqa: E402

_HANDLERS.update(_EVENT_HANDLERS)
_HANDLERS.update(_CHILD_HANDLERS)
_HANDLERS.update(_SESSION_HANDLERS)


def _on_ended(state: State, row: dict) -> list[Event]:
    """What else an execution's end does: report to its parent, cancel its children, free its session."""
    return [*_children_ended(state, row), *_session_ended(state, row)]
