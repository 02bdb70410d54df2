"""Typed workflow state: checkpointed with every step, exact after a restart, 1 MB limit."""

import asyncio
import json

import pytest
from helpers import assert_eventually

from engine import StateTooLargeError, WorkflowContext, WorkflowFailedError, WorkflowState, current_step, workflow

GATES: dict[str, asyncio.Event] = {}
BODY_RUNS: dict[str, int] = {}


class ProcessingState(WorkflowState):
    processed_count: int = 0
    failed_items: list[str] = []
    parent_id: str | None = None


async def process_item(item: str) -> str:
    key = f"{current_step().execution_id}/{item}"
    BODY_RUNS[key] = BODY_RUNS.get(key, 0) + 1
    if item.startswith("bad"):
        raise ValueError(f"cannot process {item}")
    return item.upper()


@workflow(state_schema=ProcessingState)
async def t_batch_processor(ctx: WorkflowContext, items: list[str], gate: str | None = None) -> dict:
    for i, item in enumerate(items):
        try:
            await ctx.step.run(f"process_{item}", process_item, item)
            ctx.state.processed_count += 1
        except Exception:
            ctx.state.failed_items.append(item)
        if gate and i == 1:
            await ctx.step.run("gate", GATES[gate].wait)
    await ctx.state.set("note", "done")  # AGNT5-style run-scoped key-value
    return {
        "processed": ctx.state.processed_count,
        "failed": ctx.state.failed_items,
        "note": await ctx.state.get("note"),
        "missing": await ctx.state.get("nope", 42),
        "parent": ctx.state.parent_id,
    }


@workflow
async def t_hoarder(ctx: WorkflowContext, kilobytes: int) -> str:
    await ctx.state.set("blob", "x" * (kilobytes * 1024))
    try:
        await ctx.step.run("after_growth", process_item, "ok")
    except StateTooLargeError as exc:
        await ctx.state.set("blob", "")  # shrink it again, or the end of the run is refused too
        return f"refused: {exc}"
    return "kept"


async def test_state_is_checkpointed_with_every_step(harness):
    await harness.worker()
    client = await harness.client()
    handle = await t_batch_processor.invoke(client, {"items": ["a", "bad1", "b"]}, initial_state={"parent_id": "p-1"})
    result = await handle.result(timeout=30)
    assert result == {"processed": 2, "failed": ["bad1"], "note": "done", "missing": 42, "parent": "p-1"}
    execution = await client.get_execution(handle.execution_id)
    assert execution.state == {"processed_count": 2, "failed_items": ["bad1"], "parent_id": "p-1", "note": "done"}
    history = await client.history(handle.execution_id, include_claims=False)
    recorded = [r.fields["state"] for r in history if r.type in ("StepCompleted", "StepFailed")]
    last = json.loads(history[0].fields["initial_state"])  # InvocationRequested
    checkpoints = []
    for state in recorded:  # null: the same state as the last one recorded
        last = json.loads(state) if state else last
        checkpoints.append(last["processed_count"])
    assert checkpoints == [0, 1, 1]  # as of each step's record: before the code after it ran
    assert len({s for s in recorded if s}) == sum(1 for s in recorded if s), "each recorded state is a change"


async def test_state_after_a_restart_is_as_of_the_last_recorded_step(harness):
    gate = f"{harness.namespace}-state"
    GATES[gate] = asyncio.Event()
    worker = await harness.worker()
    client = await harness.client()
    handle = await t_batch_processor.invoke(client, {"items": ["a", "bad1", "b", "bad2", "c"], "gate": gate})
    await assert_eventually(lambda: _steps(client, handle.execution_id, 2), timeout=30)
    await harness.stop_worker(worker)
    GATES[gate].set()
    await harness.worker(harness.tmp_path / "second")
    result = await handle.result(timeout=30)
    assert result["processed"] == 3 and result["failed"] == ["bad1", "bad2"]
    eid = handle.execution_id
    assert BODY_RUNS[f"{eid}/a"] == 1 and BODY_RUNS[f"{eid}/bad1"] == 1  # recorded before the restart


async def _steps(client, execution_id, n):
    history = await client.history(execution_id, include_claims=False)
    return sum(1 for r in history if r.type in ("StepCompleted", "StepFailed")) >= n


async def test_state_over_one_megabyte_is_refused(harness):
    await harness.worker()
    client = await harness.client()
    log = await harness.log()
    before = [await log.end_offset(p) for p in range(log.num_partitions)]
    with pytest.raises(StateTooLargeError, match=r"bytes of JSON; the limit is 1048576") as info:
        await t_batch_processor.invoke(
            client, {"items": []}, initial_state={"failed_items": ["y" * 1100 * 1024]}, execution_id="too-big"
        )
    assert "too-big" in str(info.value) and info.value.size > 1024 * 1024
    assert [await log.end_offset(p) for p in range(log.num_partitions)] == before  # nothing started
    small = await t_hoarder.invoke(client, {"kilobytes": 10})
    assert await small.result(timeout=30) == "kept"
    edge = await t_hoarder.invoke(client, {"kilobytes": 1000})  # just under the limit: recorded
    assert await edge.result(timeout=30) == "kept"
    big = await t_hoarder.invoke(client, {"kilobytes": 1100})
    refused = await big.result(timeout=30)
    assert refused.startswith("refused: state of execution " + big.execution_id) and "bytes of JSON" in refused


async def test_an_uncaught_state_limit_fails_the_execution(harness):
    @workflow(name=f"t_hog_{harness.namespace}")
    async def hog(ctx: WorkflowContext) -> None:
        await ctx.state.set("blob", "z" * (2 * 1024 * 1024))
        await ctx.step.run("grow", process_item, "ok")

    await harness.worker()
    client = await harness.client()
    with pytest.raises(WorkflowFailedError) as info:
        await hog.run(client, timeout=30)
    assert info.value.error["code"] == "STATE_TOO_LARGE"
