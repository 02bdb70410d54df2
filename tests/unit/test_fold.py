"""The fold is pure and deterministic, and enforces fencing and first-writer-wins."""

from helpers import ERROR, apply_all, claim, effect, invoke, kinds, owned, rec

from engine import fold
from engine.fold import EffectKind, MemoryState, keys

# One execution, e1, across a takeover: each record named for what it is in the story.
HISTORY = [
    ("claim by a (epoch 1)", claim(1, "a")),
    ("invoke", invoke("e1")),
    ("start", rec("ExecutionStarted", "e1", worker="a")),
    ("step one completes", rec("StepCompleted", "e1", seq=1, key="one", attempt=1, result="1")),
    (
        "step two fails its first attempt",
        rec("StepAttemptFailed", "e1", seq=2, key="two", attempt=1, error=ERROR, retry_at=5000),
    ),
    ("claim by b (epoch 2)", claim(2, "b")),
    ("zombie step (epoch 1)", rec("StepCompleted", "e1", seq=2, key="two", attempt=2, result="2")),
    ("step two completes (epoch 2)", rec("StepCompleted", "e1", epoch=2, seq=2, key="two", attempt=2, result="22")),
    (
        "duplicate step two (attempt 3)",
        rec("StepCompleted", "e1", epoch=2, seq=2, key="two", attempt=3, result="222"),
    ),
    ("duplicate invoke", invoke("e1")),
    ("completion", rec("ExecutionCompleted", "e1", epoch=2, result='"done"')),
    ("step after the end", rec("StepCompleted", "e1", epoch=2, seq=3, key="late", attempt=1, result="3")),
]


def fold_all(history):
    """Fold the named records in order: the state, and the effects of each record by its name."""
    state = MemoryState()
    effects = dict(zip([name for name, _ in history], apply_all(state, [record for _, record in history])))
    assert len(effects) == len(history), "every record has a name of its own"
    return state, effects


def test_history_folds_to_the_expected_state():
    state, effects = fold_all(HISTORY)
    row = state.get(keys.execution_key("e1"))
    assert row["status"] == "completed" and row["result"] == '"done"'
    assert state.get(keys.journal_key("e1", 1))["result"] == "1"
    assert state.get(keys.journal_key("e1", 2))["result"] == "22"
    assert state.get(keys.journal_key("e1", 3)) is None
    assert state.get(keys.active_key("e1")) is None
    assert state.get(keys.EPOCH_KEY)["owner"] == "b"
    assert kinds(effects["zombie step (epoch 1)"]) == ["fenced"]
    duplicate = effects["duplicate step two (attempt 3)"]
    assert kinds(duplicate) == ["step", "duplicate"] and effect(duplicate, EffectKind.STEP).data[1]["result"] == "22"
    assert kinds(effects["duplicate invoke"]) == ["duplicate"]
    assert kinds(effects["step after the end"]) == ["ignored"]


def test_replay_is_deterministic_and_idempotent():
    a, _ = fold_all(HISTORY)
    b, _ = fold_all(HISTORY)
    assert a.data == b.data
    # applying every record a second time changes nothing
    apply_all(a, [record for _, record in HISTORY])
    assert a.data == b.data


def test_stale_or_equal_claims_are_rejected():
    state = MemoryState()
    assert kinds(fold.apply(state, claim(2, "a"))) == ["claimed"]
    assert kinds(fold.apply(state, claim(2, "b"))) == ["claim_rejected"]
    assert kinds(fold.apply(state, claim(1, "c"))) == ["claim_rejected"]
    assert state.get(keys.EPOCH_KEY)["owner"] == "a"


def test_owner_records_need_the_current_epoch_commands_do_not():
    state = MemoryState()
    fold.apply(state, claim(5))
    assert kinds(fold.apply(state, invoke("x"))) == ["invoked"]  # epoch 0 command
    assert kinds(fold.apply(state, rec("ExecutionStarted", "x", 4, worker="old"))) == ["fenced"]
    assert kinds(fold.apply(state, rec("ExecutionStarted", "x", 6, worker="new"))) == ["fenced"]
    assert kinds(fold.apply(state, rec("ExecutionStarted", "x", 5, worker="ok"))) == ["started"]


def test_a_failed_step_is_final_and_replays_its_error():
    state = owned()
    for r in [
        invoke("e1"),
        rec("StepFailed", "e1", seq=1, key="s", attempt=3, error=ERROR),
        rec("StepCompleted", "e1", seq=1, key="s", attempt=4, result="1"),
    ]:
        fold.apply(state, r)
    entry = state.get(keys.journal_key("e1", 1))
    assert entry["status"] == "failed" and entry["error"] == ERROR


def test_unknown_record_types_are_ignored_not_fatal():
    state = owned()
    assert kinds(fold.apply(state, rec("SomethingNew", "e1", epoch=1))) == ["ignored"]


def test_a_workers_announcement_is_kept_per_worker_and_changes_no_execution():
    state = MemoryState()
    first = rec("WorkerAnnounced", "", epoch=0, at=1, worker="w1", workflows=[{"name": "a", "triggers": ["t"]}])
    again = rec("WorkerAnnounced", "", epoch=0, at=2, worker="w1", workflows=[{"name": "b", "triggers": []}])
    other = rec("WorkerAnnounced", "", epoch=0, at=3, worker="w2", workflows=[])
    assert apply_all(state, [claim(1, "a"), first, again, other])[1:] == [[], [], []]
    rows = dict(state.scan(keys.WORKERS_PREFIX))
    assert rows == {
        keys.worker_key("w1"): {"worker": "w1", "workflows": [{"name": "b", "triggers": []}], "at": 2},
        keys.worker_key("w2"): {"worker": "w2", "workflows": [], "at": 3},
    }, "a worker's latest announcement replaces its earlier one"
    assert not list(state.scan(keys.EXECUTION_PREFIX))
