"""The fold is pure and deterministic, and enforces fencing and first-writer-wins."""

import copy

from engine import fold
from engine.fold import MemoryState, keys

ERROR = {"code": "ERROR", "type": "ValueError", "message": "boom", "step": "s"}


def rec(type_, execution_id="e1", epoch=1, at=1000, **fields):
    return {"type": type_, "execution_id": execution_id, "epoch": epoch, "at": at, **fields}


def invoke(eid="e1"):
    return rec(
        "InvocationRequested",
        eid,
        0,
        workflow="wf",
        input="{}",
        user_id=None,
        session_id=None,
        parent_execution_id=None,
        root_execution_id=None,
    )


def claim(epoch, owner="w"):
    return rec("PartitionClaimed", "", epoch, owner=owner)


HISTORY = [
    claim(1, "a"),
    invoke("e1"),
    rec("ExecutionStarted", worker="a"),
    rec("StepCompleted", seq=1, key="one", attempt=1, result="1"),
    rec("StepAttemptFailed", seq=2, key="two", attempt=1, error=ERROR, retry_at=5000),
    claim(2, "b"),
    rec("StepCompleted", seq=2, key="two", attempt=2, result="2"),  # zombie: epoch 1
    rec("StepCompleted", epoch=2, seq=2, key="two", attempt=2, result="22"),
    rec("StepCompleted", epoch=2, seq=2, key="two", attempt=3, result="222"),  # duplicate
    invoke("e1"),  # duplicate invoke
    rec("ExecutionCompleted", epoch=2, result='"done"'),
    rec("StepCompleted", epoch=2, seq=3, key="late", attempt=1, result="3"),  # after the end
]


def fold_all(records):
    state = MemoryState()
    events = [fold.apply(state, copy.deepcopy(r)) for r in records]
    return state, events


def test_history_folds_to_the_expected_state():
    state, events = fold_all(HISTORY)
    row = state.get(keys.execution_key("e1"))
    assert row["status"] == "completed" and row["result"] == '"done"'
    assert state.get(keys.journal_key("e1", 1))["result"] == "1"
    assert state.get(keys.journal_key("e1", 2))["result"] == "22"
    assert state.get(keys.journal_key("e1", 3)) is None
    assert state.get(keys.active_key("e1")) is None
    assert state.get(keys.EPOCH_KEY)["owner"] == "b"
    kinds = [[e.kind for e in evs] for evs in events]
    assert kinds[6] == ["fenced"]
    assert kinds[8] == ["step", "duplicate"] and events[8][0].data[1]["result"] == "22"
    assert kinds[9] == ["duplicate"]
    assert kinds[11] == ["ignored"]


def test_replay_is_deterministic_and_idempotent():
    a, _ = fold_all(HISTORY)
    b, _ = fold_all(HISTORY)
    assert a.data == b.data
    # applying every record a second time changes nothing
    for r in HISTORY:
        fold.apply(a, copy.deepcopy(r))
    assert a.data == b.data


def test_stale_or_equal_claims_are_rejected():
    state = MemoryState()
    assert fold.apply(state, claim(2, "a"))[0].kind == "claimed"
    assert fold.apply(state, claim(2, "b"))[0].kind == "claim_rejected"
    assert fold.apply(state, claim(1, "c"))[0].kind == "claim_rejected"
    assert state.get(keys.EPOCH_KEY)["owner"] == "a"


def test_owner_records_need_the_current_epoch_commands_do_not():
    state = MemoryState()
    fold.apply(state, claim(5))
    assert fold.apply(state, invoke("x"))[0].kind == "invoked"  # epoch 0 command
    assert fold.apply(state, rec("ExecutionStarted", "x", 4, worker="old"))[0].kind == "fenced"
    assert fold.apply(state, rec("ExecutionStarted", "x", 6, worker="new"))[0].kind == "fenced"
    assert fold.apply(state, rec("ExecutionStarted", "x", 5, worker="ok"))[0].kind == "started"


def test_a_failed_step_is_final_and_replays_its_error():
    state = MemoryState()
    for r in [
        claim(1),
        invoke(),
        rec("StepFailed", seq=1, key="s", attempt=3, error=ERROR),
        rec("StepCompleted", seq=1, key="s", attempt=4, result="1"),
    ]:
        fold.apply(state, r)
    entry = state.get(keys.journal_key("e1", 1))
    assert entry["status"] == "failed" and entry["error"] == ERROR


def test_unknown_record_types_are_ignored_not_fatal():
    state = MemoryState()
    fold.apply(state, claim(1))
    assert fold.apply(state, rec("SomethingNew", epoch=1))[0].kind == "ignored"
