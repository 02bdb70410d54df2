"""Rules 9-12 of the fold: children, their reports, recursive cancel and session turns."""

import copy

from helpers import ERROR, apply_all, effect, invoke, kinds, owned, rec

from engine import fold
from engine.fold import EffectKind, keys
from engine.fold.keys import child_key, report_key, session_lock_key, session_state_key


def invoke_by_u(eid, session=None, **parent):
    """An invocation by user "u", with the session and parent fields rules 9-12 read (None if not given)."""
    return invoke(
        eid,
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
        "p",
        seq=seq,
        key="kid",
        child_execution_id=child,
        workflow="kid",
        input='{"n":1}',
        initial_state=None,
        run_timeout_ms=None,
        wait=wait,
    )


def child_finished(seq=1, child="p:kid", status="completed", result=None, error=None):
    """The report of child ``child`` of ``p`` (called at ``seq``), as it reaches the parent's partition."""
    return rec(
        "ChildFinished",
        "p",
        0,
        seq=seq,
        child_execution_id=child,
        child_key=child,
        status=status,
        result=result,
        error=error,
    )


def test_a_child_is_spawned_from_the_outbox_and_its_report_ends_the_wait():
    parent_side, child_side = owned(), owned()
    apply_all(parent_side, [invoke_by_u("p"), rec("ExecutionStarted", "p", worker="w")])
    spawned = fold.apply(parent_side, child_invoked())
    assert kinds(spawned) == ["step", "spawn"]
    assert parent_side.get(keys.execution_key("p"))["waits"]["1"]["child"] == "p:kid"
    invocation = effect(spawned, EffectKind.SPAWN).data["invocation"]
    assert invocation["parent_execution_id"] == "p" and invocation["root_execution_id"] == "p"
    assert invocation["user_id"] == "u" and invocation["reply_key"] == "p" and invocation["parent_seq"] == 1
    assert invocation["at"] == 1000, "the fold reads no clock"

    _, ended = apply_all(
        child_side,
        [
            {"type": "InvocationRequested", **invocation},
            rec("ExecutionCompleted", "p:kid", result='{"ok":1}', state=None),
        ],
    )
    report = effect(ended, EffectKind.REPORT).data
    assert child_side.get(report_key("p:kid")) == report
    again = fold.apply(child_side, {"type": "InvocationRequested", **invocation})  # the parent sent it again
    assert kinds(again) == ["duplicate", "report"]

    finished = child_finished(result='{"ok":1}')
    first = fold.apply(parent_side, copy.deepcopy(finished))
    assert kinds(first)[:2] == ["child_ack", "step"] and effect(first, EffectKind.STEP).data[1]["result"] == '{"ok":1}'
    assert parent_side.get(child_key("p", "p:kid")) is None
    assert parent_side.get(keys.execution_key("p"))["status"] == "running"
    assert kinds(fold.apply(parent_side, copy.deepcopy(finished))) == ["child_ack", "duplicate"]
    fold.apply(child_side, rec("ChildAcknowledged", "p:kid", 0))
    assert child_side.get(report_key("p:kid")) is None


def test_a_failed_child_fails_the_parents_step_with_its_error():
    state = owned()
    apply_all(state, [invoke_by_u("p"), child_invoked()])
    events = fold.apply(state, child_finished(status="failed", error=ERROR))
    entry = effect(events, EffectKind.STEP).data[1]
    assert entry["status"] == "failed" and entry["error"]["step"] == "kid" and entry["error"]["type"] == "ValueError"
    assert "child execution p:kid failed: boom" == entry["error"]["message"]


def test_a_cancelled_parent_cancels_its_open_children():
    state = owned()
    apply_all(state, [invoke_by_u("p"), child_invoked(1, child="p:a"), child_invoked(2, wait=False, child="p:b")])
    fold.apply(state, child_finished(2, "p:b", result="1"))
    events = fold.apply(state, rec("ExecutionCancelled", "p", reason="stop"))
    cancels = [e for e in events if e.kind == "cancel_child"]
    assert [e.execution_id for e in cancels] == ["p:a"], "only children that have not reported back"
    assert state.get(child_key("p", "p:a"))["cancel"] == "parent p was cancelled"


def test_session_turns_are_taken_in_request_order_and_shared_by_a_call_tree():
    state = owned()
    lock = lambda eid, seq=1: rec("SessionLockRequested", eid, seq=seq, key="session.lock")
    apply_all(
        state,
        [
            invoke_by_u("a", "s"),
            invoke_by_u("b", "s"),
            invoke_by_u("a:kid", "s", parent="a", root="a", seq=2, reply="s"),
            invoke_by_u("c", "s"),
        ],
    )
    lock_status = lambda eid: effect(fold.apply(state, lock(eid)), EffectKind.STEP).data[1]["status"]
    assert lock_status("a") == "completed"
    assert lock_status("b") == "waiting"
    assert lock_status("a:kid") == "completed", "same root: shares the turn"
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
