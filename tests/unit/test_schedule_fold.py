"""The fold's rule 14, cron schedules (``engine/fold/schedules.py``), on records alone.

Times are fixed numbers (the fold reads no clock): a tick every 1,000 ms from T."""

import json

from helpers import apply_all, effect, kinds, owned, rec

from engine import fold, names
from engine.fold import EffectKind
from engine.fold.keys import TIMER_PREFIX, execution_key, schedule_key, schedule_timer_key
from engine.runtime.schedule_ticks import tick_record

T = 1_700_000_000_000
SID = "report/global"


def set_(overlap="skip", next_tick=T, cron="* * * * * *", at=T - 500, catch_up_s=0):
    spec = {"cron": cron, "timezone": "UTC", "overlap": overlap, "catch_up_s": catch_up_s}
    return rec("ScheduleSet", "", 0, at, schedule_id=SID, workflow="report", key="global", source="api",
               next_tick_ms=next_tick, **spec)  # fmt: skip


def ticked(due_at, ticks, next_tick, epoch=1):
    return rec("ScheduleTicked", "", epoch, due_at + 5, schedule_id=SID, due_at=due_at, ticks=ticks,
               next_tick_ms=next_tick)  # fmt: skip


def command(action, at=T, **fields):
    base = {"ticks": [], "next_tick_ms": None, "trigger_id": None}
    return rec("ScheduleCommand", "", 0, at, schedule_id=SID, action=action, **{**base, **fields})


def end(execution_id, at):
    return rec("ExecutionCompleted", execution_id, 1, at, result="null", state=None)


def run_id(tick):
    return names.tick_execution_id(SID, tick)


def timers(state):
    return [key for key, _ in state.scan(TIMER_PREFIX)]


def test_a_schedule_sets_its_timer_and_the_same_spec_again_changes_nothing():
    state = owned()
    first, again = apply_all(state, [set_(), set_()])
    assert kinds(first) == [EffectKind.TIMER, EffectKind.SCHEDULE]
    assert timers(state) == [schedule_timer_key(T, SID)]
    assert kinds(again) == [EffectKind.DUPLICATE]
    changed = fold.apply(state, set_(cron="*/2 * * * * *", next_tick=T + 2000))
    assert kinds(changed) == [EffectKind.TIMER_DONE, EffectKind.TIMER, EffectKind.SCHEDULE]
    assert timers(state) == [schedule_timer_key(T + 2000, SID)], "the old timer is gone"


def test_a_tick_starts_one_run_whose_id_and_payload_say_which_tick():
    state = owned()
    apply_all(state, [set_()])
    effects = fold.apply(state, ticked(T, [T], T + 1000))
    invoked = effect(effects, EffectKind.INVOKED)
    assert invoked.execution_id == run_id(T) == "report/global@tick-20231114T221320Z"
    payload = json.loads(invoked.data["input"])
    assert payload == {"timestamp": "2023-11-14T22:13:20Z", "last_timestamp": None, "timezone": "UTC",
                       "schedule_id": SID, "key": "global", "upcoming": "2023-11-14T22:13:21Z"}  # fmt: skip
    assert timers(state) == [schedule_timer_key(T + 1000, SID)]
    row = state.get(schedule_key(SID))
    assert row["open"] == [run_id(T)] and row["last_tick"] == T and row["runs"] == 1


def test_a_tick_fired_twice_or_by_a_zombie_starts_nothing_more():
    state = owned()
    apply_all(state, [set_(overlap="allow_all"), ticked(T, [T], T + 1000)])
    again = fold.apply(state, ticked(T, [T], T + 1000))
    assert EffectKind.INVOKED not in kinds(again), "its timer moved on: the second firing is stale"
    zombie = fold.apply(state, ticked(T + 1000, [T + 1000], T + 2000, epoch=7))
    assert kinds(zombie) == [EffectKind.FENCED]
    carried_again = fold.apply(state, ticked(T + 1000, [T, T + 1000], T + 2000))
    assert [e.execution_id for e in carried_again if e.kind == EffectKind.INVOKED] == [run_id(T + 1000)]


def test_overlap_skip_drops_ticks_while_a_run_is_open():
    state = owned()
    apply_all(state, [set_(), ticked(T, [T], T + 1000)])
    skipped = fold.apply(state, ticked(T + 1000, [T + 1000], T + 2000))
    assert EffectKind.INVOKED not in kinds(skipped)
    assert state.get(schedule_key(SID))["skipped"] == 1
    ended = fold.apply(state, end(run_id(T), T + 1500))
    assert EffectKind.INVOKED not in kinds(ended), "skip keeps nothing for later"
    assert state.get(schedule_key(SID))["open"] == []
    effect(fold.apply(state, ticked(T + 2000, [T + 2000], T + 3000)), EffectKind.INVOKED)


def test_overlap_buffer_one_keeps_the_latest_tick_and_starts_it_when_the_open_run_ends():
    state = owned()
    apply_all(state, [set_(overlap="buffer_one"), ticked(T, [T], T + 1000)])
    apply_all(state, [ticked(T + 1000, [T + 1000], T + 2000), ticked(T + 2000, [T + 2000], T + 3000)])
    assert state.get(schedule_key(SID))["buffered"] == T + 2000
    started = effect(fold.apply(state, end(run_id(T), T + 2500)), EffectKind.INVOKED)
    assert started.execution_id == run_id(T + 2000), "the latest tick, not each one"
    payload = json.loads(started.data["input"])
    assert payload["timestamp"] == "2023-11-14T22:13:22Z" and payload["last_timestamp"] == "2023-11-14T22:13:20Z"
    assert state.get(execution_key(run_id(T + 1000))) is None


def test_overlap_allow_all_starts_every_tick():
    state = owned()
    apply_all(state, [set_(overlap="allow_all"), ticked(T, [T], T + 1000)])
    effect(fold.apply(state, ticked(T + 1000, [T + 1000], T + 2000)), EffectKind.INVOKED)
    assert state.get(schedule_key(SID))["open"] == [run_id(T), run_id(T + 1000)]


def test_catch_up_ticks_run_oldest_first_under_the_overlap_policy():
    state = owned()
    apply_all(state, [set_(overlap="allow_all", catch_up_s=10)])
    effects = fold.apply(state, ticked(T, [T, T + 1000, T + 2000], T + 3000))
    assert [e.execution_id for e in effects if e.kind == EffectKind.INVOKED] == [
        run_id(t) for t in (T, T + 1000, T + 2000)
    ]


def test_pause_removes_the_timer_resume_sets_it_at_the_next_tick_and_delete_leaves_open_runs_alone():
    state = owned()
    apply_all(state, [set_(), ticked(T, [T], T + 1000)])
    assert kinds(fold.apply(state, command("pause"))) == [EffectKind.TIMER_DONE, EffectKind.SCHEDULE]
    assert timers(state) == [] and kinds(fold.apply(state, command("pause"))) == [EffectKind.DUPLICATE]
    stale = fold.apply(state, ticked(T + 1000, [T + 1000], T + 2000))
    assert EffectKind.INVOKED not in kinds(stale), "a firing in flight when it paused starts nothing"
    fold.apply(state, command("resume", next_tick_ms=T + 60_000))
    assert timers(state) == [schedule_timer_key(T + 60_000, SID)]
    fold.apply(state, command("delete"))
    assert state.get(schedule_key(SID)) is None and timers(state) == []
    assert state.get(execution_key(run_id(T)))["status"] == "pending", "its open run goes on"
    assert fold.apply(state, end(run_id(T), T + 70_000))[0].kind == EffectKind.FINISHED
    assert kinds(fold.apply(state, command("pause")))[0] == EffectKind.IGNORED


def test_trigger_runs_now_even_paused_and_backfill_runs_each_tick_once():
    state = owned()
    apply_all(state, [set_(), command("pause")])
    triggered = effect(fold.apply(state, command("trigger", trigger_id="abc123")), EffectKind.INVOKED)
    assert triggered.execution_id == "report/global@trigger-abc123"
    assert json.loads(triggered.data["input"])["timestamp"] == "2023-11-14T22:13:20Z"
    ticks = [T - 86_400_000 * d for d in range(3)]
    first = fold.apply(state, command("backfill", ticks=ticks))
    second = fold.apply(state, command("backfill", ticks=ticks))
    assert sorted(e.execution_id for e in first if e.kind == EffectKind.INVOKED) == sorted(run_id(t) for t in ticks)
    assert EffectKind.INVOKED not in kinds(second)


def test_a_scheduled_run_routes_to_its_schedule_and_other_ids_do_not():
    assert names.routing_key(run_id(T)) == names.schedule_routing_key(SID)
    assert names.routing_key("report/global@trigger-0f") == names.schedule_routing_key(SID)
    assert names.routing_key(f"{run_id(T)}:child-step") == f"{run_id(T)}:child-step", "children route by their id"
    assert names.routing_key("user@example.com") == "user@example.com"
    assert names.routing_key(run_id(T), "session-1") == "session-1"


def test_the_owner_writes_the_latest_missed_tick_alone_unless_a_catch_up_window_allows_more():
    state = owned()
    apply_all(state, [set_(), ticked(T, [T], T + 1000)])
    outage_end = T + 4_300  # ticks T+1000 .. T+4000 were missed
    record = tick_record(state, 1, SID, T + 1000, outage_end)
    assert record["ticks"] == [T + 4000] and record["next_tick_ms"] == T + 5000
    fold.apply(state, set_(catch_up_s=2, next_tick=T + 1000))
    record = tick_record(state, 1, SID, T + 1000, outage_end)
    assert record["ticks"] == [T + 3000, T + 4000], "every missed tick of the last 2 s"
