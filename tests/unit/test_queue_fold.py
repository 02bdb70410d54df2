"""The fold's rule 15, queues (``engine/fold/queues.py``), on records alone."""

from helpers import apply_all, effect, invoke, kinds, owned, rec

from engine import fold
from engine.fold import EffectKind
from engine.fold.keys import execution_key, queue_key


def on_queue(execution_id, priority=0, limit=2, key="k"):
    return invoke(execution_id, queue={"name": "llm", "key": key, "limit": limit, "priority": priority})


def slots(state, key="k"):
    return state.get(queue_key("llm", key))


def suspend(execution_id, seq=1, at=2000):
    return rec("Suspended", execution_id, 1, at, seq=seq, key="approval", data=None, timeout_at=None)


def parked(execution_id, waits=(1,)):
    return rec("RunParked", execution_id, 1, 2100, waits=list(waits))


def resume(execution_id, data='"ok"'):
    return rec("ResumeRequested", execution_id, 0, 3000, name="approval", data=data)


def completed(execution_id, at=4000):
    return rec("ExecutionCompleted", execution_id, 1, at, result="null", state=None)


def started(execution_id):
    return rec("ExecutionStarted", execution_id, 1, 1500, worker="w")


def test_runs_past_the_limit_are_queued_and_start_in_priority_then_arrival_order():
    state = owned()
    effects = apply_all(state, [on_queue("a"), on_queue("b"), on_queue("c"), on_queue("d", priority=5)])
    assert [kinds(e)[0] for e in effects] == [EffectKind.INVOKED, EffectKind.INVOKED, EffectKind.QUEUED,
                                              EffectKind.QUEUED]  # fmt: skip
    assert state.get(execution_key("c"))["status"] == "queued"
    assert state.get(execution_key("a"))["routing"] == "\x00queue/llm/k"
    assert [w[2] for w in slots(state)["waiting"]] == ["d", "c"], "priority first"
    granted = effect(fold.apply(state, completed("a")), EffectKind.INVOKED)
    assert granted.execution_id == "d" and granted.data["status"] == "pending"
    assert slots(state)["running"] == ["b", "d"]


def test_a_queued_run_that_ends_leaves_the_queue_and_holds_nothing():
    state = owned()
    apply_all(state, [on_queue("a", limit=1), on_queue("b", limit=1)])
    fold.apply(state, rec("CancelRequested", "b", 0, 1200, reason="no", terminate=False))
    fold.apply(state, rec("ExecutionCancelled", "b", 1, 1300, reason="no", terminated=False))
    assert slots(state)["waiting"] == [] and slots(state)["running"] == ["a"]
    assert kinds(fold.apply(state, completed("a"))) == [EffectKind.FINISHED]
    assert slots(state)["running"] == []


def test_a_parked_run_gives_its_slot_back_only_if_its_waits_are_still_open():
    state = owned()
    apply_all(state, [on_queue("a", limit=1), on_queue("b", limit=1), started("a"), suspend("a")])
    assert slots(state)["running"] == ["a"], "opening a wait alone keeps the slot"
    effect(fold.apply(state, parked("a")), EffectKind.INVOKED)  # b starts
    assert slots(state)["running"] == ["b"] and state.get(execution_key("a"))["queue"]["slot"] == "released"
    assert kinds(fold.apply(state, parked("a")))[0] == EffectKind.DUPLICATE

    state = owned()
    apply_all(state, [on_queue("a", limit=1), started("a"), suspend("a"), resume("a")])
    late = fold.apply(state, parked("a"))  # written before the wake was folded
    assert kinds(late) == [EffectKind.DUPLICATE] and slots(state)["running"] == ["a"]


def test_a_woken_run_without_a_free_slot_is_queued_again_and_its_wake_held_until_it_has_one():
    state = owned()
    apply_all(state, [on_queue("a", limit=1), started("a"), suspend("a"), parked("a"), on_queue("b", limit=1)])
    assert slots(state)["running"] == ["b"]
    woken = fold.apply(state, resume("a"))
    assert EffectKind.STEP not in kinds(woken) and EffectKind.WOKEN not in kinds(woken)
    assert effect(woken, EffectKind.QUEUED).data["queue"]["slot"] == "requeued"
    assert state.get(execution_key("a"))["status"] == "queued"
    handed = fold.apply(state, completed("b"))
    step = effect(handed, EffectKind.STEP)
    assert step.execution_id == "a" and step.data[0] == 1 and step.data[1]["status"] == "completed"
    assert effect(handed, EffectKind.WOKEN).data["status"] == "running"
    assert slots(state)["running"] == ["a"]


def test_a_woken_run_takes_a_free_slot_at_once():
    state = owned()
    apply_all(state, [on_queue("a", limit=1), started("a"), suspend("a"), parked("a")])
    woken = fold.apply(state, resume("a"))
    assert EffectKind.STEP in kinds(woken) and EffectKind.WOKEN in kinds(woken)
    assert slots(state)["running"] == ["a"]


def test_a_larger_limit_starts_waiting_runs_at_once_and_keys_are_apart():
    state = owned()
    apply_all(state, [on_queue("a", limit=1), on_queue("b", limit=1), on_queue("c", limit=1)])
    apply_all(state, [on_queue("x", limit=1, key="other")])
    assert slots(state, "other")["running"] == ["x"], "another key has its own slots"
    effects = fold.apply(state, rec("QueueLimitSet", "", 0, 5000, queue="llm", limit=3))
    assert sorted(e.execution_id for e in effects if e.kind == EffectKind.INVOKED) == ["b", "c"]
    assert fold.apply(state, on_queue("d", limit=1))[0].kind == EffectKind.QUEUED, "the set limit wins"


def rated(execution_id, at):
    request = {"name": "llm", "key": "k", "limit": 10, "priority": 0, "rate_limit": 2, "rate_period_ms": 1000}
    return dict(invoke(execution_id, queue=request), at=at)


def test_a_rate_limit_starts_a_bucket_then_one_per_refill_and_a_timer_wakes_the_key():
    state = owned()
    effects = apply_all(state, [rated("a", 10_000), rated("b", 10_000), rated("c", 10_000), rated("d", 10_100)])
    assert [kinds(e)[0] for e in effects] == [EffectKind.INVOKED, EffectKind.INVOKED, EffectKind.QUEUED,
                                              EffectKind.QUEUED]  # fmt: skip
    assert slots(state)["timer"] == 10_500, "the next token comes back 500 ms after the bucket emptied"
    assert slots(state)["running"] == ["a", "b"], "c and d wait for a token, not a slot, and hold none"
    ticked = fold.apply(state, rec("QueueTicked", "", 1, 10_503, queue="llm", key="k", due_at=10_500))
    assert [e.execution_id for e in ticked if e.kind == EffectKind.INVOKED] == ["c"]
    assert slots(state)["timer"] == 11_000, "the bucket refills continuously: d's token is due at 11 s"
    late = fold.apply(state, rec("QueueTicked", "", 1, 12_000, queue="llm", key="k", due_at=11_000))
    assert [e.execution_id for e in late if e.kind == EffectKind.INVOKED] == ["d"]
    assert slots(state)["timer"] is None and slots(state)["waiting"] == []
