"""The fold's rules for child workflows and recursive cancellation (rules 9-11).

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

from .. import names
from ..wire import records
from ..wire.records import RecordType
from .effects import Effect, EffectKind, duplicate, step
from .keys import child_key, children_prefix, execution_key, journal_key, report_key
from .rows import EntryKind, EntryStatus, Status, active_row, close_wait, completed, failed, open_wait
from .state import State

_CANCELLED = Status.CANCELLED  # read at every execution's end, as a module name (docs/architecture.md)

# -- 9. on the parent's partition --------------------------------------------------------


def child_invoked(state: State, r: dict) -> list[Effect]:
    row, ignored = active_row(state, r)
    if row is None:
        return ignored
    parent, seq, child = row["id"], r["seq"], r["child_execution_id"]
    entry = {
        "key": r["key"],
        "kind": EntryKind.CHILD,
        "child": child,
        "workflow": r["workflow"],
        "attempt": 1,
        "at": r["at"],
    }
    if r["wait"]:
        entry["status"] = EntryStatus.WAITING
        row, effects = open_wait(state, r, entry, None)
        if row is None:
            return effects
        state.put(execution_key(parent), row)
    else:
        existing = state.get(journal_key(parent, seq))
        if existing is not None:
            return [step(parent, seq, existing), duplicate(parent, "child already invoked")]
        handle = orjson.dumps({"execution_id": child, "workflow": r["workflow"]}).decode()
        entry.update(status=EntryStatus.COMPLETED, result=handle)
        state.put(journal_key(parent, seq), entry)
    session = row.get("session_id")
    invocation = records.invocation_requested(
        child,
        r["at"],
        workflow=r["workflow"],
        input=r["input"],
        user_id=row.get("user_id"),
        session_id=session,
        run_timeout_ms=r.get("run_timeout_ms"),
        initial_state=r.get("initial_state"),
        parent_execution_id=parent,
        root_execution_id=row.get("root_id") or parent,
        parent_seq=seq,
        reply_key=names.row_routing_key(row),  # a queued parent lives on its queue key
        queue=r.get("queue"),
        traceparent=row.get("traceparent"),  # the tree is one trace
    )
    outbox = {"routing": names.invocation_routing_key(child, session, r.get("queue")), "invocation": invocation}
    state.put(child_key(parent, child), outbox)
    return [step(parent, seq, entry), Effect(EffectKind.SPAWN, child, outbox)]


def child_finished(state: State, r: dict) -> list[Effect]:
    parent, seq, child = r["execution_id"], r["seq"], r["child_execution_id"]
    ack = Effect(EffectKind.CHILD_ACK, child, {"routing": r["child_key"]})
    key = child_key(parent, child)
    if state.get(key) is None:
        return [ack, duplicate(parent, f"child {child} already reported")]
    state.delete(key)
    row, ignored = active_row(state, r)
    entry = state.get(journal_key(parent, seq)) if row is not None else None
    if entry is None or entry["status"] != EntryStatus.WAITING or entry.get("child") != child:
        return [ack]  # a fire-and-forget child, or a parent that ended first: bookkeeping only
    if r["status"] == Status.COMPLETED:
        ended = completed(entry, r["result"])
    else:
        error = r["error"] or {"code": "ERROR", "type": "Error", "message": "", "step": None}
        ended = failed(
            entry,
            {
                "code": error["code"],
                "type": error["type"],
                "step": entry["key"],
                "message": f"child execution {child} {r['status']}: {error['message']}",
            },
        )
    return [ack, *close_wait(state, row, seq, ended)]


# -- 10. and 11. on the child's partition, and when a parent is cancelled ----------------


def on_ended(state: State, row: dict) -> list[Effect]:
    """An execution ended: report to its parent; if it was cancelled, cancel its children."""
    effects = []
    parent = row.get("parent")
    if parent is not None:
        report = {
            "parent_id": row["parent_id"],
            "seq": parent["seq"],
            "reply_key": parent["reply_key"],
            "child_key": names.row_routing_key(row),
            "status": row["status"],
            "result": row["result"],
            "error": row["error"],
        }
        state.put(report_key(row["id"]), report)
        effects.append(Effect(EffectKind.REPORT, row["id"], report))
    if row["status"] == _CANCELLED:
        for key, child in list(state.scan(children_prefix(row["id"]))):
            child["cancel"] = f"parent {row['id']} was cancelled"
            state.put(key, child)
            effects.append(Effect(EffectKind.CANCEL_CHILD, child["invocation"]["execution_id"], child))
    return effects


def report_again(state: State, execution_id: str) -> list[Effect]:
    """A repeated invocation of an ended child: its report may have been lost, send it again."""
    report = state.get(report_key(execution_id))
    return [] if report is None else [Effect(EffectKind.REPORT, execution_id, report)]


def child_acknowledged(state: State, r: dict) -> list[Effect]:
    state.delete(report_key(r["execution_id"]))
    return []


RULES = {
    RecordType.CHILD_INVOKED: child_invoked,
    RecordType.CHILD_FINISHED: child_finished,
    RecordType.CHILD_ACKNOWLEDGED: child_acknowledged,
}
