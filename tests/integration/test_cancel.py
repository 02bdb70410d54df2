"""Cancellation and run timeouts, on both logs."""

import asyncio

import pytest
from helpers import assert_eventually, in_status

from engine import WorkflowContext, WorkflowFailedError, current_step, workflow

GATES: dict[str, asyncio.Event] = {}
RAN: dict[str, list[str]] = {}


async def note(label: str) -> str:
    RAN.setdefault(current_step().execution_id, []).append(label)
    return label


async def gated(gate: str) -> str:
    RAN.setdefault(current_step().execution_id, []).append("gated")
    await GATES[gate].wait()
    return "gated"


@workflow
async def t_cancellable(ctx: WorkflowContext, gate: str | None = None, nap: float = 0) -> str:
    await ctx.step.run("first", note, "first")
    if gate:
        await ctx.step.run("gated", gated, gate)
    if nap:
        await ctx.sleep(nap)
    else:
        await ctx.step.suspend("approval")
    await ctx.step.run("last", note, "last")
    return "finished"


async def cancelled(handle) -> WorkflowFailedError:
    with pytest.raises(WorkflowFailedError) as info:
        await handle.result(timeout=30)
    assert info.value.error["code"] == "CANCELLED"
    return info.value


async def test_cancel_a_waiting_execution(harness):
    worker = await harness.worker(evict_after_idle_s=0.5)
    client = await harness.client()
    handle = await t_cancellable.invoke(client)
    await assert_eventually(lambda: in_status(client, handle.execution_id, "waiting"), timeout=30)
    await assert_eventually(lambda: worker.invoker.running() == 0, timeout=10)
    await client.cancel(handle.execution_id, "not needed any more")
    error = await cancelled(handle)
    assert "not needed any more" in str(error)
    assert (await client.get_execution(handle.execution_id)).status == "cancelled"
    assert RAN[handle.execution_id] == ["first"]
    types = [r.type for r in await client.history(handle.execution_id, include_claims=False)]
    assert types[-2:] == ["CancelRequested", "ExecutionCancelled"]


async def test_cancel_stops_a_running_execution_at_its_next_step(harness):
    gate = f"{harness.namespace}-cancel"
    GATES[gate] = asyncio.Event()
    await harness.worker()
    client = await harness.client()
    handle = await t_cancellable.invoke(client, {"gate": gate})
    await assert_eventually(lambda: RAN.get(handle.execution_id) == ["first", "gated"], timeout=30)
    await client.cancel(handle.execution_id)
    await asyncio.sleep(0.2)
    GATES[gate].set()  # the running step finishes and is recorded ...
    await cancelled(handle)
    assert RAN[handle.execution_id] == ["first", "gated"]  # ... and nothing after it runs
    history = await client.history(handle.execution_id, include_claims=False)
    assert [r.fields["key"] for r in history if r.type == "StepCompleted"] == ["first", "gated"]


async def test_run_timeout_cancels_a_long_run(harness):
    await harness.worker()
    client = await harness.client()
    handle = await t_cancellable.invoke(client, {"nap": 30}, run_timeout_seconds=0.5)
    error = await cancelled(handle)
    assert "run timeout" in str(error)


async def test_cancelling_an_ended_execution_changes_nothing(harness):
    await harness.worker()
    client = await harness.client()
    handle = await t_cancellable.invoke(client, {"nap": 0.05})
    result = await handle.result(timeout=30)
    await client.cancel(handle.execution_id)
    history = await client.history(handle.execution_id, include_claims=False)
    assert history[-1].type == "CancelRequested" and history[-1].outcome.startswith("ignored")
    assert (await client.get_execution(handle.execution_id)).result == result == "finished"
