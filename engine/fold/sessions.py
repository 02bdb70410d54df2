"""The fold's rules for session state (rule 12).

Runs that share a ``session_id`` are routed by it, so they, their children and the
session's state live on one partition, and this fold sees all of them in log order.

12. A run's first use of ``ctx.session.state`` records ``SessionLockRequested``. If no
    call tree holds the session, or the runs holding it belong to this run's call tree
    (same root execution), the request is granted at once; otherwise it waits in a
    queue. The session is held until every run of the tree that was granted it has
    ended; then the first run still waiting in the queue gets it (and every other
    waiting run of that run's tree). A run that holds the session reads it (a recorded
    step) and writes it with ``SessionStateSet``, which changes one key. So a
    read-modify-write of concurrent runs of one session never loses an update: call
    trees take turns, in request order.
"""

from __future__ import annotations

from ..wire.records import RecordType
from .effects import Effect, duplicate, ignored, step
from .keys import execution_key, journal_key, session_lock_key, session_state_key
from .rows import ACTIVE, EntryKind, EntryStatus, active_row, close_wait, completed, open_wait
from .state import State


def session_lock_requested(state: State, r: dict) -> list[Effect]:
    row, ignored_ = active_row(state, r)
    if row is None:
        return ignored_
    session = row.get("session_id")
    if not session:
        return [ignored(row["id"], "the execution has no session")]
    entry = {"key": r["key"], "status": EntryStatus.WAITING, "kind": EntryKind.SESSION, "attempt": 1, "at": r["at"]}
    row, effects = open_wait(state, r, entry, None)
    if row is None:
        return effects
    lock = state.get(session_lock_key(session)) or {"holders": [], "root": row["root_id"], "queue": []}
    if lock["root"] == row["root_id"]:
        lock["holders"].append(row["id"])
        state.put(session_lock_key(session), lock)
        return close_wait(state, row, r["seq"], completed(entry, "null"))
    lock["queue"].append([row["id"], r["seq"]])
    state.put(session_lock_key(session), lock)
    state.put(execution_key(row["id"]), row)
    return [step(row["id"], r["seq"], entry)]


def session_state_set(state: State, r: dict) -> list[Effect]:
    row, ignored_ = active_row(state, r)
    if row is None:
        return ignored_
    key = journal_key(row["id"], r["seq"])
    existing = state.get(key)
    if existing is not None:
        return [step(row["id"], r["seq"], existing), duplicate(row["id"], "already set")]
    document = state.get(session_state_key(row["session_id"])) or {}
    document[r["name"]] = r["value"]
    state.put(session_state_key(row["session_id"]), document)
    entry = {
        "key": r["key"],
        "status": EntryStatus.COMPLETED,
        "kind": EntryKind.SESSION_SET,
        "result": "null",
        "attempt": 1,
        "at": r["at"],
    }
    state.put(key, entry)
    return [step(row["id"], r["seq"], entry)]


def on_ended(state: State, row: dict) -> list[Effect]:
    """An execution ended: if it was the last of its tree to hold the session, the next waiting run gets it."""
    session = row.get("session_id")
    lock = state.get(session_lock_key(session)) if session else None
    if lock is None:
        return []
    if row["id"] not in lock["holders"]:
        lock["queue"] = [w for w in lock["queue"] if w[0] != row["id"]]
        state.put(session_lock_key(session), lock)
        return []
    lock["holders"].remove(row["id"])
    if lock["holders"]:  # others of its call tree still hold it
        state.put(session_lock_key(session), lock)
        return []
    effects: list[Effect] = []
    queue, lock["queue"] = lock["queue"], []
    for execution_id, seq in queue:
        waiter = state.get(execution_key(execution_id))
        entry = state.get(journal_key(execution_id, seq))
        if waiter is None or waiter["status"] not in ACTIVE or entry is None or entry["status"] != EntryStatus.WAITING:
            continue  # ended while it waited
        if not lock["holders"]:
            lock["root"] = waiter["root_id"]
        if waiter["root_id"] == lock["root"]:
            lock["holders"].append(execution_id)
            effects.extend(close_wait(state, waiter, seq, completed(entry, "null")))
        else:
            lock["queue"].append([execution_id, seq])
    if lock["holders"]:
        state.put(session_lock_key(session), lock)
    else:
        state.delete(session_lock_key(session))
    return effects


RULES = {
    RecordType.SESSION_LOCK_REQUESTED: session_lock_requested,
    RecordType.SESSION_STATE_SET: session_state_set,
}
