"""What the fold's rules share: statuses, the active-row check, and opening and closing waits.

An execution's *row* (``e/<execution>``) holds its status, input, result, error, times
and open waits; its *journal entries* (``j/<execution>\\0<seq>``) hold what each step
or wait position recorded. Every rule that opens or ends a wait goes through
``open_wait`` and ``close_wait``, so a wait's row, journal entry, timer and
registration always change together.
"""

from __future__ import annotations

from enum import StrEnum

from .. import names
from ..wire.serde import from_json
from . import queues, run_index
from .effects import Effect, EffectKind, duplicate, ignored, step
from .keys import active_key, awaiting_key, execution_key, journal_key, suspension_key, timer_key
from .state import State


class Status(StrEnum):
    """An execution's status."""

    PENDING = "pending"
    QUEUED = "queued"  # waits for a slot of its queue (``queues.py``)
    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE = frozenset({Status.PENDING, Status.QUEUED, Status.RUNNING, Status.WAITING})
ENDED = frozenset({Status.COMPLETED, Status.FAILED, Status.CANCELLED})


class EntryStatus(StrEnum):
    """A journal entry's status: what is recorded at one step or wait position."""

    COMPLETED = "completed"  # its result is recorded: replay returns it
    FAILED = "failed"  # its error is recorded: replay raises it
    RETRYING = "retrying"  # an attempt failed; the next is due at retry_at
    WAITING = "waiting"  # a wait is open


class EntryKind(StrEnum):
    """What a journal entry records, besides a step body's outcome (which has no kind)."""

    TIMER = "timer"
    SUSPEND = "suspend"
    EVENT = "event"
    CHILD = "child"
    SESSION = "session"  # a turn of the session
    SESSION_SET = "session_set"


RECORDED = frozenset({EntryStatus.COMPLETED, EntryStatus.FAILED})

# Members the wait helpers read per record, as module names (docs/architecture.md).
_WAITING_ROW, _RUNNING_ROW, _PENDING_ROW = Status.WAITING, Status.RUNNING, Status.PENDING
_TIMER, _SUSPEND, _EVENT = EntryKind.TIMER, EntryKind.SUSPEND, EntryKind.EVENT
_COMPLETED, _FAILED = EntryStatus.COMPLETED, EntryStatus.FAILED
_TIMER_DONE, _CLOSE_WAIT, _WOKEN = EffectKind.TIMER_DONE, EffectKind.CLOSE_WAIT, EffectKind.WOKEN
_INVOKED = EffectKind.INVOKED

DEADLINE_SEQ = 0  # timer index position of an execution's run timeout (steps start at 1)

# What a row keeps of each open wait (``Execution.waiting_for``).
_WAIT_FIELDS = ("kind", "key", "due_at", "data", "topic", "event_key", "timeout_at", "child")


def new_execution(state: State, r: dict) -> list[Effect]:
    """Create the execution ``r`` (an ``InvocationRequested``, or what a schedule's tick
    starts) as ``pending``; the caller made sure its id is new."""
    execution_id = r["execution_id"]
    row = {
        "id": execution_id,
        "workflow": r["workflow"],
        "status": _PENDING_ROW,
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
    if r.get("traceparent"):  # the caller's trace: the run's spans continue it (engine.observability)
        row["traceparent"] = r["traceparent"]
    if r.get("routing"):  # a run on a queue: routed by its queue key
        row["routing"] = r["routing"]
    if r.get("parent_execution_id") and r.get("reply_key"):  # a child: it reports its end there
        row["parent"] = {"seq": r.get("parent_seq"), "reply_key": r["reply_key"]}
    rerun = r.get("rerun")
    if rerun is not None:  # its journal starts as the old run's, up to the step it reruns from
        row["rerun_of"] = {k: rerun[k] for k in ("execution_id", "from_step", "from_seq")}
        for seq, entry in from_json(rerun["journal"]).items():
            state.put(journal_key(execution_id, int(seq)), entry)
    effects = [Effect(_INVOKED, execution_id, row)]
    if r.get("run_timeout_ms"):
        row["deadline"] = r["at"] + r["run_timeout_ms"]
        state.put(
            timer_key(row["deadline"], execution_id, DEADLINE_SEQ),
            {"key": "run timeout", "routing": names.row_routing_key(row)},
        )
        effects.append(Effect(EffectKind.TIMER, execution_id, row["deadline"]))
    state.put(execution_key(execution_id), row)
    state.put(active_key(execution_id), {})
    run_index.on_created(state, row)
    return effects


def active_row(state: State, r: dict) -> tuple[dict | None, list[Effect]]:
    """The row of ``r``'s execution if it is active; else None and why the record is ignored."""
    row = state.get(execution_key(r["execution_id"]))
    if row is None:
        return None, [ignored(r["execution_id"], "unknown execution")]
    if row["status"] not in ACTIVE:
        return None, [ignored(r["execution_id"], f"execution is {row['status']}")]
    return row, []


def open_wait(state: State, r: dict, entry: dict, due_at_ms: int | None) -> tuple[dict | None, list[Effect]]:
    """Common start of a wait: returns the row, or effects for a duplicate/ignored record.

    The caller writes the row back once it has added what its kind of wait needs."""
    row, ignored_ = active_row(state, r)
    if row is None:
        return None, ignored_
    key = journal_key(row["id"], r["seq"])
    existing = state.get(key)
    if existing is not None:
        return None, [step(row["id"], r["seq"], existing), duplicate(row["id"], "wait already recorded")]
    state.put(key, entry)
    if due_at_ms is not None:
        state.put(
            timer_key(due_at_ms, row["id"], r["seq"]),
            {"key": r["key"], "routing": names.row_routing_key(row), "sleep": entry["kind"] == _TIMER},
        )
    waits = row.setdefault("waits", {})
    waits[str(r["seq"])] = {k: v for k, v in entry.items() if k in _WAIT_FIELDS}
    row["status"] = _WAITING_ROW
    return row, []


def close_wait(state: State, row: dict, seq: int, entry: dict, unregister: bool = True) -> list[Effect]:
    """End the wait at ``seq`` with ``entry`` (completed or failed) and wake the execution.

    An event wait also tells its event partition to forget the registration, unless
    ``unregister`` is False: the event partition ended it itself, by a delivery."""
    execution_id = row["id"]
    state.put(journal_key(execution_id, seq), entry)
    due_at_ms = entry.get("due_at") or entry.get("timeout_at")
    effects = [step(execution_id, seq, entry)]
    if due_at_ms is not None:
        state.delete(timer_key(due_at_ms, execution_id, seq))
        effects.append(Effect(_TIMER_DONE, execution_id, timer_key(due_at_ms, execution_id, seq)))
    if entry.get("kind") == _SUSPEND:
        state.delete(suspension_key(execution_id, entry["key"]))
    if entry.get("kind") == _EVENT:
        state.delete(awaiting_key(execution_id, seq))
        if unregister:  # the event partition may forget this wait now
            effects.append(
                Effect(
                    _CLOSE_WAIT,
                    execution_id,
                    {"seq": seq, "topic": entry["topic"], "event_key": entry.get("event_key")},
                )
            )
    row.get("waits", {}).pop(str(seq), None)
    if not row.get("waits"):
        row["status"] = _RUNNING_ROW
    state.put(execution_key(execution_id), row)
    effects.append(Effect(_WOKEN, execution_id, row))
    if row.get("queue"):  # it may have given its slot back while it waited
        return queues.on_wait_closed(state, row, effects)
    return effects


def completed(entry: dict, result: str) -> dict:
    """``entry`` ended with ``result`` (JSON)."""
    return dict(entry, status=_COMPLETED, result=result)


def failed(entry: dict, error: dict) -> dict:
    """``entry`` ended with ``error`` (an Avro ``Error`` record)."""
    return dict(entry, status=_FAILED, error=error)
