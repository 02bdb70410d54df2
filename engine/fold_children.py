"""The fold for child workflows and recursive cancellation: pure and deterministic, like
``fold.py`` (rules 1-5).

Two partitions take part, the parent's and the child's (they may be one). The child's
routing key is the parent's session id if it has one, else the child's own id.

9. ``ChildInvoked`` (parent's partition, owner) records a child at a step position:
   completed at once with a handle (``invoke``), or an open wait (``invoke_and_wait``).
   The child's invocation goes into the parent partition's outbox ``ck/``; its owner
   sends it as ``InvocationRequested`` to the child's partition, where the first one
   creates the child. The outbox entry stays until the child reports back, and is sent
   again on takeover.
10. When a child ends, its partition keeps a report under ``cr/`` and its owner sends it
   as ``ChildFinished`` to the parent's partition. There the report empties the outbox
   and ends the parent's wait at that position, if it waits; the parent's owner answers
   ``ChildAcknowledged``, which empties ``cr/``. Reports are sent again on takeover, and
   a repeated invocation of an ended child repeats its report. Every step is idempotent.
11. ``ExecutionCancelled`` of a parent marks its open children (those still in ``ck/``);
   its owner sends each a ``CancelRequested``, again on takeover, until the child reports
   back. A cancelled child does the same for its own children: a cancel goes down the tree.
"""

from __future__ import annotations

import orjson

from . import commands
from .fold import CANCELLED, Event, _active_row, _close_wait, _open_wait, execution_key, journal_key
from .store import State


def children_prefix(parent_id: str) -> bytes:
    """The parent partition's outbox: children that have not reported back yet."""
    return b"ck/" + parent_id.encode() + b"\x00"


def child_key(parent_id: str, child_id: str) -> bytes:
    return children_prefix(parent_id) + child_id.encode()


def report_key(child_id: str) -> bytes:
    """The child partition's outbox: an ended child's report, until its parent has it."""
    return b"cr/" + child_id.encode()


# -- 9. on the parent's partition --------------------------------------------------------


def child_invoked(state: State, r: dict) -> list[Event]:
    row, ignored = _active_row(state, r)
    if row is None:
        return ignored
    parent, seq, child = row["id"], r["seq"], r["child_execution_id"]
    entry = {"key": r["key"], "kind": "child", "child": child, "workflow": r["workflow"], "attempt": 1, "at": r["at"]}
    if r["wait"]:
        entry["status"] = "waiting"
        row, events = _open_wait(state, r, entry, None)
        if row is None:
            return events
        state.put(execution_key(parent), row)
    else:
        existing = state.get(journal_key(parent, seq))
        if existing is not None:
            return [Event("step", parent, (seq, existing)), Event("duplicate", parent, "child already invoked")]
        entry.update(status="completed", result=orjson.dumps({"execution_id": child, "workflow": r["workflow"]}).decode())
        state.put(journal_key(parent, seq), entry)
    session = row.get("session_id")
    invocation = commands.invocation(
        child, r["workflow"], r["input"], user_id=row.get("user_id"), session_id=session,
        run_timeout_ms=r.get("run_timeout_ms"), initial_state=r.get("initial_state"), parent_execution_id=parent,
        root_execution_id=row.get("root_id") or parent, parent_seq=seq, reply_key=session or parent, at=r["at"])
    outbox = {"routing": session or child, "invocation": invocation}
    state.put(child_key(parent, child), outbox)
    return [Event("step", parent, (seq, entry)), Event("spawn", child, outbox)]


def child_finished(state: State, r: dict) -> list[Event]:
    parent, seq, child = r["execution_id"], r["seq"], r["child_execution_id"]
    ack = Event("child_ack", child, {"routing": r["child_key"]})
    key = child_key(parent, child)
    if state.get(key) is None:
        return [ack, Event("duplicate", parent, f"child {child} already reported")]
    state.delete(key)
    row, ignored = _active_row(state, r)
    entry = state.get(journal_key(parent, seq)) if row is not None else None
    if entry is None or entry["status"] != "waiting" or entry.get("child") != child:
        return [ack]  # a fire-and-forget child, or a parent that ended first: bookkeeping only
    if r["status"] == "completed":
        ended = dict(entry, status="completed", result=r["result"])
    else:
        error = r["error"] or {"code": "ERROR", "type": "Error", "message": "", "step": None}
        ended = dict(entry, status="failed", error={
            "code": error["code"], "type": error["type"], "step": entry["key"],
            "message": f"child execution {child} {r['status']}: {error['message']}"})
    return [ack, *_close_wait(state, row, seq, ended)]


# -- 10. and 11. on the child's partition, and when a parent is cancelled ----------------


def on_ended(state: State, row: dict) -> list[Event]:
    """An execution ended: report to its parent; if it was cancelled, cancel its children."""
    events = []
    parent = row.get("parent")
    if parent is not None:
        report = {"parent_id": row["parent_id"], "seq": parent["seq"], "reply_key": parent["reply_key"],
                  "child_key": row.get("session_id") or row["id"], "status": row["status"],
                  "result": row["result"], "error": row["error"]}
        state.put(report_key(row["id"]), report)
        events.append(Event("report", row["id"], report))
    if row["status"] == CANCELLED:
        for key, child in list(state.scan(children_prefix(row["id"]))):
            child["cancel"] = f"parent {row['id']} was cancelled"
            state.put(key, child)
            events.append(Event("cancel_child", child["invocation"]["execution_id"], child))
    return events


def report_again(state: State, execution_id: str) -> list[Event]:
    """A repeated invocation of an ended child: its report may have been lost, send it again."""
    report = state.get(report_key(execution_id))
    return [] if report is None else [Event("report", execution_id, report)]


def child_acknowledged(state: State, r: dict) -> list[Event]:
    state.delete(report_key(r["execution_id"]))
    return []


HANDLERS = {
    "ChildInvoked": child_invoked,
    "ChildFinished": child_finished,
    "ChildAcknowledged": child_acknowledged,
}
