"""Rules 9-12 of the fold: children, their reports, recursive cancel and session turns."""

import copy

from engine import fold
from engine.fold import MemoryState, keys
from engine.fold.keys import child_key, report_key, session_lock_key, session_state_key

ERROR = {"code": "ERROR", "type": "ValueError", "message": "boom", "step": "s"}


def rec(type_, execution_id="p", epoch=1, at=1000, **fields):
    return {"type": type_, "execution_id": execution_id, "epoch": epoch, "at": at, **fields}


def invoke(eid, session=None, **parent):
    return rec(
        "InvocationRequested",
        eid,
        0,
        workflow="wf",
        input="{}",
        user_id="u",
        session_id=session,
        parent_execution_id=parent.get("parent"),
        root_execution_id=parent.get("root"),
        parent_seq=parent.get("seq"),
        reply_key=parent.get("reply"),
    )


def child_invoked(seq=1, wait=True, child="p:kid"):
    return rec(
        "ChildInvoked",
        seq=seq,
        key="kid",
        child_execution_id=child,
        workflow="kid",
        input='{"n":1}',
        initial_state=None,
        run_timeout_ms=None,
        wait=wait,
    )


def owned() -> MemoryState:
    """A partition's state, claimed by an owner with epoch 1."""
    state = MemoryState()
    fold.apply(state, rec("PartitionClaimed", "", 1, owner="w"))
    return state


def apply_all(state, records):
    return [fold.apply(state, copy.deepcopy(r)) for r in records]


def test_a_child_is_spawned_from_the_outbox_and_its_report_ends_the_wait():
    parent_side, child_side = owned(), owned()
    apply_all(parent_side, [invoke("p"), rec("ExecutionStarted", worker="w")])
    spawned = fold.apply(parent_side, child_invoked())
    assert [e.kind for e in spawned] == ["step", "spawn"]
    assert parent_side.get(keys.execution_key("p"))["waits"]["1"]["child"] == "p:kid"
    invocation = spawned[1].data["invocation"]
    assert invocation["parent_execution_id"] == "p" and invocation["root_execution_id"] == "p"
    assert invocation["user_id"] == "u" and invocation["reply_key"] == "p" and invocation["parent_seq"] == 1
    assert invocation["at"] == 1000, "the fold reads no clock"

    events = apply_all(
        child_side,
        [
            {"type": "InvocationRequested", **invocation},
            rec("ExecutionCompleted", "p:kid", result='{"ok":1}', state=None),
        ],
    )
    report = next(e for e in events[1] if e.kind == "report").data
    assert child_side.get(report_key("p:kid")) == report
    again = fold.apply(child_side, {"type": "InvocationRequested", **invocation})  # the parent sent it again
    assert [e.kind for e in again] == ["duplicate", "report"]

    finished = rec(
        "ChildFinished",
        "p",
        0,
        seq=1,
        child_execution_id="p:kid",
        child_key="p:kid",
        status="completed",
        result='{"ok":1}',
        error=None,
    )
    first = fold.apply(parent_side, copy.deepcopy(finished))
    assert [e.kind for e in first][:2] == ["child_ack", "step"] and first[1].data[1]["result"] == '{"ok":1}'
    assert parent_side.get(child_key("p", "p:kid")) is None
    assert parent_side.get(keys.execution_key("p"))["status"] == "running"
    assert [e.kind for e in fold.apply(parent_side, copy.deepcopy(finished))] == ["child_ack", "duplicate"]
    fold.apply(child_side, rec("ChildAcknowledged", "p:kid", 0))
    assert child_side.get(report_key("p:kid")) is None


def test_a_failed_child_fails_the_parents_step_with_its_error():
    state = owned()
    apply_all(state, [invoke("p"), child_invoked()])
    events = fold.apply(
        state,
        rec(
            "ChildFinished",
            "p",
            0,
            seq=1,
            child_execution_id="p:kid",
            child_key="p:kid",
            status="failed",
            result=None,
            error=ERROR,
        ),
    )
    entry = events[1].data[1]
    assert entry["status"] == "failed" and entry["error"]["step"] == "kid" and entry["error"]["type"] == "ValueError"
    assert "child execution p:kid failed: boom" == entry["error"]["message"]


def test_a_cancelled_parent_cancels_its_open_children():
    state = owned()
    apply_all(state, [invoke("p"), child_invoked(1, child="p:a"), child_invoked(2, wait=False, child="p:b")])
    fold.apply(
        state,
        rec(
            "ChildFinished",
            "p",
            0,
            seq=2,
            child_execution_id="p:b",
            child_key="p:b",
            status="completed",
            result="1",
            error=None,
        ),
    )
    events = fold.apply(state, rec("ExecutionCancelled", reason="stop"))
    cancels = [e for e in events if e.kind == "cancel_child"]
    assert [e.execution_id for e in cancels] == ["p:a"], "only children that have not reported back"
    assert state.get(child_key("p", "p:a"))["cancel"] == "parent p was cancelled"


def test_session_turns_are_taken_in_request_order_and_shared_by_a_call_tree():
    state = owned()
    lock = lambda eid, seq=1: rec("SessionLockRequested", eid, seq=seq, key="session.lock")
    apply_all(
        state,
        [
            invoke("a", "s"),
            invoke("b", "s"),
            invoke("a:kid", "s", parent="a", root="a", seq=2, reply="s"),
            invoke("c", "s"),
        ],
    )
    assert fold.apply(state, lock("a"))[0].data[1]["status"] == "completed"
    assert fold.apply(state, lock("b"))[0].data[1]["status"] == "waiting"
    assert fold.apply(state, lock("a:kid"))[0].data[1]["status"] == "completed", "same root: shares the turn"
    fold.apply(state, lock("c"))
    fold.apply(state, rec("SessionStateSet", "a", seq=2, key="session.set:n:1", name="n", value="1"))
    assert state.get(session_state_key("s")) == {"n": "1"}
    ended = fold.apply(state, rec("ExecutionCompleted", "a", result="null", state=None))
    assert not [e for e in ended if e.kind == "step"], "a:kid still holds the session for their tree"
    ended = fold.apply(state, rec("ExecutionCompleted", "a:kid", result="null", state=None))
    woken = [e.data[1]["status"] for e in ended if e.kind == "step"]
    assert woken == ["completed"] and state.get(session_lock_key("s"))["holders"] == ["b"]
    assert state.get(session_lock_key("s"))["queue"] == [["c", 1]]
    fold.apply(state, rec("ExecutionCancelled", "c", reason="x"))
    fold.apply(state, rec("ExecutionCompleted", "b", result="null", state=None))
    assert state.get(session_lock_key("s")) is None, "no run waits: the session is free"
