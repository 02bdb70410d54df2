"""The fold for session state: pure and deterministic, like ``fold.py`` (rules 1-5).

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

from .fold import ACTIVE, Event, _active_row, _close_wait, _open_wait, execution_key, journal_key
from .store import State


def session_lock_key(session_id: str) -> bytes:
    return b"sl/" + session_id.encode()


def session_state_key(session_id: str) -> bytes:
    """The session's state: a dict of key -> JSON of its value."""
    return b"ss/" + session_id.encode()


def session_lock_requested(state: State, r: dict) -> list[Event]:
    row, ignored = _active_row(state, r)
    if row is None:
        return ignored
    session = row.get("session_id")
    if not session:
        return [Event("ignored", row["id"], "the execution has no session")]
    entry = {"key": r["key"], "status": "waiting", "kind": "session", "attempt": 1, "at": r["at"]}
    row, events = _open_wait(state, r, entry, None)
    if row is None:
        return events
    lock = state.get(session_lock_key(session)) or {"holders": [], "root": row["root_id"], "queue": []}
    if lock["root"] == row["root_id"]:
        lock["holders"].append(row["id"])
        state.put(session_lock_key(session), lock)
        return _close_wait(state, row, r["seq"], dict(entry, status="completed", result="null"))
    lock["queue"].append([row["id"], r["seq"]])
    state.put(session_lock_key(session), lock)
    state.put(execution_key(row["id"]), row)
    return [Event("step", row["id"], (r["seq"], entry))]


def session_state_set(state: State, r: dict) -> list[Event]:
    row, ignored = _active_row(state, r)
    if row is None:
        return ignored
    key = journal_key(row["id"], r["seq"])
    existing = state.get(key)
    if existing is not None:
        return [Event("step", row["id"], (r["seq"], existing)), Event("duplicate", row["id"], "already set")]
    document = state.get(session_state_key(row["session_id"])) or {}
    document[r["name"]] = r["value"]
    state.put(session_state_key(row["session_id"]), document)
    entry = {"key": r["key"], "status": "completed", "kind": "session_set", "result": "null", "attempt": 1,
             "at": r["at"]}
    state.put(key, entry)
    return [Event("step", row["id"], (r["seq"], entry))]


def on_ended(state: State, row: dict) -> list[Event]:
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
    events: list[Event] = []
    queue, lock["queue"] = lock["queue"], []
    for execution_id, seq in queue:
        waiter = state.get(execution_key(execution_id))
        entry = state.get(journal_key(execution_id, seq))
        if waiter is None or waiter["status"] not in ACTIVE or entry is None or entry["status"] != "waiting":
            continue  # ended while it waited
        if not lock["holders"]:
            lock["root"] = waiter["root_id"]
        if waiter["root_id"] == lock["root"]:
            lock["holders"].append(execution_id)
            events.extend(_close_wait(state, waiter, seq, dict(entry, status="completed", result="null")))
        else:
            lock["queue"].append([execution_id, seq])
    if lock["holders"]:
        state.put(session_lock_key(session), lock)
    else:
        state.delete(session_lock_key(session))
    return events


HANDLERS = {
    "SessionLockRequested": session_lock_requested,
    "SessionStateSet": session_state_set,
}
