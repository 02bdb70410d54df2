"""Durable sleeps and suspensions, on both logs: waiting costs no task, waking replays."""

import asyncio
import json
import time

import pytest
from helpers import assert_eventually, in_status

from engine import WaitTimeoutError, WorkflowContext, workflow
from engine.runtime.timers import SLEEP_LEAD_MS

GATES: dict[str, asyncio.Event] = {}


async def stamp(label: str) -> dict:
    return {"label": label, "t": time.time()}


@workflow
async def t_sleeper(ctx: WorkflowContext, seconds: float) -> dict:
    before = await ctx.step.run("before", stamp, "before")
    await ctx.sleep(seconds)
    after = await ctx.step.run("after", stamp, "after")
    return {"slept": after["t"] - before["t"]}


@workflow
async def t_approval(ctx: WorkflowContext, amount: float, timeout: float | None = None) -> dict:
    try:
        decision = await ctx.step.suspend("approval", data={"amount": amount}, timeout=timeout)
    except WaitTimeoutError as exc:
        return {"status": "timed out", "wait": exc.wait}
    if not decision.data["approved"]:
        return {"status": "rejected"}
    charged = await ctx.step.run("charge", stamp, "charge")
    return {"status": "charged", "by": decision.data.get("by"), "label": charged["label"]}


@workflow
async def t_ask(ctx: WorkflowContext) -> dict:
    color = await ctx.wait_for_user(
        "Pick a color", input_type="select", options=[{"id": "r", "label": "red"}, {"id": "b", "label": "blue"}]
    )
    await ctx.step.wait_for("pause", seconds=0.1)
    return {"color": color}


@workflow
async def t_gate_then_suspend(ctx: WorkflowContext, gate: str) -> object:
    await ctx.step.run("gate", lambda: GATES[gate].wait())
    return (await ctx.step.suspend("late")).data


async def test_durable_sleep_records_the_timer_and_fires_once(harness):
    await harness.worker()
    client = await harness.client()
    handle = await t_sleeper.invoke(client, {"seconds": 0.3})
    result = await handle.result(timeout=30)
    assert result["slept"] >= 0.3
    history = await client.history(handle.execution_id, include_claims=False)
    types = [r.type for r in history]
    assert types.count("TimerScheduled") == 1 and types.count("TimerFired") == 1
    fired = next(r for r in history if r.type == "TimerFired")
    scheduled = next(r for r in history if r.type == "TimerScheduled")
    due = scheduled.fields["due_at"]
    assert fired.fields["due_at"] == due and fired.at.timestamp() * 1000 >= due - SLEEP_LEAD_MS
    after = next(r for r in history if r.type == "StepCompleted" and r.fields["key"] == "after")
    assert json.loads(after.fields["result"])["t"] * 1000 >= due, "the workflow went on only once the sleep was due"


async def test_a_long_wait_holds_no_task(harness):
    worker = await harness.worker(evict_after_idle_s=0.5)
    client = await harness.client()
    handle = await t_sleeper.invoke(client, {"seconds": 2.5})
    execution = await assert_eventually(lambda: in_status(client, handle.execution_id, "waiting"), timeout=30)
    assert execution.waiting_for[0]["kind"] == "timer" and execution.waiting_for[0]["key"] == "sleep:1"
    await assert_eventually(lambda: worker.invoker.running() == 0, timeout=10, message="the waiting run was evicted")
    result = await handle.result(timeout=30)
    assert result["slept"] >= 2.5


async def test_suspend_shows_its_data_and_resumes_with_the_payload(harness):
    worker = await harness.worker(evict_after_idle_s=0.5)
    client = await harness.client()
    handle = await t_approval.invoke(client, {"amount": 1200})
    execution = await assert_eventually(lambda: in_status(client, handle.execution_id, "waiting"), timeout=30)
    assert execution.waiting_for == [{"kind": "suspend", "key": "approval", "due_at": None, "data": {"amount": 1200.0}}]
    assert handle.execution_id in [e.execution_id for e in await client.list_executions(status="waiting")]
    await assert_eventually(lambda: worker.invoker.running() == 0, timeout=10)
    await client.resume(handle.execution_id, "approval", {"approved": True, "by": "ana"})
    assert await handle.result(timeout=30) == {"status": "charged", "by": "ana", "label": "charge"}
    types = [r.type for r in await client.history(handle.execution_id, include_claims=False)]
    assert types.index("Suspended") < types.index("ResumeRequested") < types.index("ExecutionCompleted")


async def test_a_resume_before_the_suspension_is_kept(harness):
    await harness.worker()
    client = await harness.client()
    gate = f"{harness.namespace}-early"
    GATES[gate] = asyncio.Event()
    handle = await t_gate_then_suspend.invoke(client, {"gate": gate})
    await client.resume(handle.execution_id, "late", {"early": True})
    await asyncio.sleep(0.2)
    GATES[gate].set()
    assert await handle.result(timeout=30) == {"early": True}
    outcomes = {r.type: r.outcome for r in await client.history(handle.execution_id, include_claims=False)}
    assert outcomes["ResumeRequested"].startswith("buffered")


async def test_a_suspension_times_out_catchably(harness):
    await harness.worker()
    client = await harness.client()
    handle = await t_approval.invoke(client, {"amount": 5, "timeout": 0.3})
    assert await handle.result(timeout=30) == {"status": "timed out", "wait": "approval"}
    # a late resume changes nothing
    await client.resume(handle.execution_id, "approval", {"approved": True})
    assert (await client.get_execution(handle.execution_id)).result == {"status": "timed out", "wait": "approval"}


async def test_wait_for_user_returns_the_answer(harness):
    await harness.worker()
    client = await harness.client()
    handle = await t_ask.invoke(client)
    execution = await assert_eventually(lambda: in_status(client, handle.execution_id, "waiting"), timeout=30)
    assert execution.waiting_for[0]["data"]["question"] == "Pick a color"
    assert execution.waiting_for[0]["key"] == "wait_for_user:1"
    await client.resume(handle.execution_id, "wait_for_user:1", "b")
    assert await handle.result(timeout=30) == {"color": "b"}


async def test_a_restart_during_a_sleep_waits_only_the_remainder(harness):
    worker = await harness.worker()
    client = await harness.client()
    handle = await t_sleeper.invoke(client, {"seconds": 3})
    execution = await assert_eventually(lambda: in_status(client, handle.execution_id, "waiting"), timeout=30)
    due = execution.waiting_for[0]["due_at"].timestamp()
    await harness.stop_worker(worker)
    await asyncio.sleep(0.5)
    await harness.worker(harness.tmp_path / "second")
    await handle.result(timeout=30)
    history = await client.history(handle.execution_id, include_claims=False)
    fired = [r for r in history if r.type == "TimerFired"]
    assert len(fired) == 1 and fired[0].outcome == "applied"
    assert due - SLEEP_LEAD_MS / 1000 <= fired[0].at.timestamp() < due + 1.5, (
        "the new owner fired the timer at its recorded due time"
    )


async def test_waits_need_unique_names(harness):
    @workflow(name=f"t_dupe_{harness.namespace}")
    async def dupe(ctx: WorkflowContext) -> None:
        await ctx.step.wait_for("w", seconds=0)
        await ctx.step.wait_for("w", seconds=0)

    await harness.worker()
    client = await harness.client()
    from engine import WorkflowFailedError

    with pytest.raises(WorkflowFailedError, match="used twice"):
        await dupe.run(client, timeout=30)


BODY_RUNS: dict[str, int] = {}


@workflow
async def t_counted_suspend(ctx: WorkflowContext, tag: str) -> object:
    BODY_RUNS[tag] = BODY_RUNS.get(tag, 0) + 1  # not a step: runs again on every replay
    return (await ctx.step.suspend("go")).data


async def test_a_waiting_run_stays_in_memory_and_wakes_without_replay(harness):
    worker = await harness.worker()  # the defaults: up to 1,000 idle runs, for 60 s
    client = await harness.client()
    tag = f"{harness.namespace}-kept"
    handle = await t_counted_suspend.invoke(client, {"tag": tag})
    await assert_eventually(lambda: in_status(client, handle.execution_id, "waiting"), timeout=30)
    await asyncio.sleep(1.0)
    assert worker.invoker.running() == 1 and len(worker.invoker.idle_runs) == 1
    await client.resume(handle.execution_id, "go", "ok")
    assert await handle.result(timeout=30) == "ok"
    assert BODY_RUNS[tag] == 1, "the wake continued the run in memory"
    assert len(worker.invoker.idle_runs) == 0


async def test_past_max_idle_runs_the_longest_idle_are_evicted_and_replay_on_wake(harness):
    worker = await harness.worker(max_idle_runs=2)
    client = await harness.client()
    tags = [f"{harness.namespace}-{i}" for i in range(4)]
    handles = []
    for tag in tags:  # one after the other: the first ones are the longest idle
        handles.append(await t_counted_suspend.invoke(client, {"tag": tag}))
        await assert_eventually(lambda: in_status(client, handles[-1].execution_id, "waiting"), timeout=30)
    await assert_eventually(lambda: worker.invoker.running() == 2, timeout=10, message="two runs evicted")
    for handle, tag in zip(handles, tags):
        await client.resume(handle.execution_id, "go", tag)
        assert await handle.result(timeout=30) == tag
    assert [BODY_RUNS[tag] for tag in tags] == [2, 2, 1, 1], "only the evicted runs were replayed"
