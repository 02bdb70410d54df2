"""Child workflows on both logs: invoke, invoke_and_wait, batches, lineage, cancellation."""

import asyncio

import pytest
from helpers import assert_eventually, in_status

from engine import (
    BatchWorkflowInput,
    ChildHandle,
    InputValidationError,
    StepExecutionError,
    WorkflowContext,
    WorkflowFailedError,
    WorkflowState,
    current_step,
    workflow,
)

RAN: dict[str, list[str]] = {}
GATES: dict[str, asyncio.Event] = {}


class ChildState(WorkflowState):
    parent_id: str = ""
    seen: int = 0


async def note(label: str) -> str:
    RAN.setdefault(current_step().execution_id, []).append(label)
    return label


@workflow(state_schema=ChildState)
async def t_child(ctx: WorkflowContext, data: int, fail: bool = False, gate: str | None = None) -> dict:
    await ctx.step.run("work", note, f"work {data}")
    if gate:
        await ctx.step.run("gate", lambda: GATES[gate].wait())
    if fail:
        await ctx.step.run("explode", _explode, data)
    ctx.state.seen = data
    return {
        "data": data,
        "parent_in_state": ctx.state.parent_id,
        "parent": ctx.parent_execution_id,
        "root": ctx.root_execution_id,
        "session": ctx.session_id,
        "user": ctx.user_id,
    }


def _explode(data: int) -> None:
    raise ValueError(f"child {data} exploded")


@workflow
async def t_parent(ctx: WorkflowContext, data: int) -> dict:
    handle = await ctx.step.invoke("call_child", t_child, {"data": data})
    result = await ctx.step.invoke_and_wait(
        "call_child2", t_child, payload={"data": 1}, initial_state=ChildState(parent_id=ctx.execution_id)
    )
    return {"handle": handle.execution_id, "handle_is_a_handle": isinstance(handle, ChildHandle), "result": result}


@workflow
async def t_grandparent(ctx: WorkflowContext) -> dict:
    return await ctx.step.invoke_and_wait("middle", "t_parent", {"data": 7})


@workflow
async def t_catches(ctx: WorkflowContext) -> str:
    try:
        await ctx.step.invoke_and_wait("doomed", t_child, {"data": 3, "fail": True})
    except StepExecutionError as exc:
        return f"caught {exc.step}: {exc}"
    return "not raised"


@workflow
async def t_fan_out(ctx: WorkflowContext, n: int, failing: list[int]) -> dict:
    handles = await ctx.step.batch_invoke("fire", [BatchWorkflowInput(t_child, {"data": -i}) for i in range(2)])
    results = await ctx.step.batch_invoke_and_wait(
        "children", [BatchWorkflowInput(id="t_child", payload={"data": i, "fail": i in failing}) for i in range(n)]
    )
    return {
        "handles": [h.execution_id for h in handles],
        "ok": [r.result["data"] for r in results if r.success],
        "failed": [(r.execution_id, r.error) for r in results if not r.success],
        "workflows": sorted({r.workflow_id for r in results}),
    }


def _on_another_partition(log, prefix: str, child_key: str) -> str:
    """A parent id whose child ``<id>:<child_key>`` maps to another partition."""
    for i in range(100):
        parent = f"{prefix}-{i}"
        if log.partition_for(parent) != log.partition_for(f"{parent}:{child_key}"):
            return parent
    raise AssertionError("no such id")


async def test_invoke_and_wait_returns_the_childs_result_across_partitions(harness):
    await harness.worker()
    client = await harness.client()
    parent_id = _on_another_partition(await harness.log(), harness.namespace, "call_child2")
    handle = await t_parent.invoke(client, {"data": 5}, execution_id=parent_id, user_id="ada")
    result = await handle.result(timeout=60)
    child_id = f"{parent_id}:call_child2"
    assert result["handle"] == f"{parent_id}:call_child" and result["handle_is_a_handle"]
    assert result["result"] == {
        "data": 1,
        "parent_in_state": parent_id,
        "parent": parent_id,
        "root": parent_id,
        "session": None,
        "user": "ada",
    }
    child = await client.get_execution(child_id)
    assert (child.parent_execution_id, child.root_execution_id, child.user_id) == (parent_id, parent_id, "ada")
    assert child.state == {"parent_id": parent_id, "seen": 1}
    fire_and_forget = await client.get_execution(f"{parent_id}:call_child")
    await assert_eventually(lambda: _done(client, fire_and_forget.execution_id), timeout=30)
    types = [r.type for r in await client.history(parent_id, include_claims=False)]
    assert types.count("ChildInvoked") == 2 and types.count("ChildFinished") == 2
    assert types.index("ChildFinished") > types.index("ChildInvoked")
    child_types = [r.type for r in await client.history(child_id, include_claims=False)]
    assert child_types[0] == "InvocationRequested" and "ChildAcknowledged" in child_types
    assert RAN[child_id] == ["work 1"]


async def _done(client, execution_id):
    return (await client.get_execution(execution_id)).done


async def test_grandchildren_share_the_root_and_the_session(harness):
    await harness.worker()
    client = await harness.client()
    handle = await t_grandparent.invoke(client, session_id=f"{harness.namespace}-s", user_id="bob")
    result = await handle.result(timeout=60)
    assert result["result"]["root"] == handle.execution_id
    assert result["result"]["parent"] == f"{handle.execution_id}:middle"
    assert result["result"]["session"] == f"{harness.namespace}-s" and result["result"]["user"] == "bob"


async def test_a_failed_child_raises_its_error_in_the_parent(harness):
    await harness.worker()
    client = await harness.client()
    result = await t_catches.run(client, timeout=60)
    assert result.startswith("caught doomed:") and "child 3 exploded" in result and "failed" in result


async def test_batch_invoke_and_wait_reports_every_child_in_order(harness):
    await harness.worker()
    client = await harness.client()
    handle = await t_fan_out.invoke(client, {"n": 12, "failing": [4, 9]})
    result = await handle.result(timeout=90)
    assert result["ok"] == [i for i in range(12) if i not in (4, 9)]
    assert [f for f, _ in result["failed"]] == [
        f"{handle.execution_id}:children[4]",
        f"{handle.execution_id}:children[9]",
    ]
    assert "child 4 exploded" in result["failed"][0][1]
    assert result["handles"] == [f"{handle.execution_id}:fire[0]", f"{handle.execution_id}:fire[1]"]
    assert result["workflows"] == ["t_child"]


async def test_client_batch_invoke_and_calling_a_workflow(harness):
    await harness.worker()
    client = await harness.client()
    handles = await client.batch_invoke([BatchWorkflowInput(t_child, {"data": i}) for i in range(3)])
    assert [(await h.result(timeout=60))["data"] for h in handles] == [0, 1, 2]
    result = await t_child(client, {"data": 9}, initial_state={"parent_id": "outside"})
    assert result["data"] == 9 and result["parent_in_state"] == "outside"


async def test_a_parent_waiting_for_a_child_holds_no_memory(harness):
    gate = f"{harness.namespace}-gate"
    GATES[gate] = asyncio.Event()
    worker = await harness.worker(evict_after_idle_s=0.5)
    client = await harness.client()

    @workflow(name=f"{harness.namespace}_sleepy_parent")
    async def sleepy_parent(ctx: WorkflowContext) -> dict:
        return await ctx.step.invoke_and_wait("nap", t_child, {"data": 2, "gate": gate})

    handle = await sleepy_parent.invoke(client)
    child_id = f"{handle.execution_id}:nap"
    await assert_eventually(lambda: RAN.get(child_id) == ["work 2"], timeout=30)
    # the child runs (its step waits on the gate); the parent only waits: it was evicted
    await assert_eventually(lambda: worker.invoker.running() == 1, timeout=10, message="only the child runs")
    status = await client.get_execution(handle.execution_id)
    assert status.status == "waiting" and status.waiting_for[0]["kind"] == "child"
    GATES[gate].set()
    assert (await handle.result(timeout=60))["data"] == 2


@workflow
async def t_tree(ctx: WorkflowContext, depth: int) -> str:
    if depth == 0:
        await ctx.step.suspend("forever")
        return "resumed"
    return await ctx.step.invoke_and_wait("down", t_tree, {"depth": depth - 1})


async def test_cancel_goes_down_the_tree(harness):
    await harness.worker()
    client = await harness.client()
    handle = await t_tree.invoke(client, {"depth": 2})
    ids = [handle.execution_id, f"{handle.execution_id}:down", f"{handle.execution_id}:down:down"]
    await assert_eventually(lambda: in_status(client, ids[2], "waiting"), timeout=30)
    await client.cancel(handle.execution_id, "tree felled")
    with pytest.raises(WorkflowFailedError):
        await handle.result(timeout=30)
    for execution_id in ids:
        await assert_eventually(
            lambda execution_id=execution_id: in_status(client, execution_id, "cancelled"),
            timeout=30,
            message=f"{execution_id} cancelled",
        )
    leaf = await client.history(ids[2], include_claims=False)
    types = [r.type for r in leaf]
    assert types.index("CancelRequested") < types.index("ExecutionCancelled") < types.index("ChildAcknowledged")
    assert "cancelled" in [r for r in leaf if r.type == "CancelRequested"][0].fields["reason"]


async def test_a_child_continues_after_its_workers_restart(harness):
    gate = f"{harness.namespace}-restart"
    GATES[gate] = asyncio.Event()
    worker = await harness.worker()
    client = await harness.client()

    @workflow(name=f"{harness.namespace}_restart_parent")
    async def restart_parent(ctx: WorkflowContext) -> dict:
        first = await ctx.step.invoke_and_wait("gated", t_child, {"data": 4, "gate": gate})
        second = await ctx.step.invoke_and_wait("after", t_child, {"data": 6})
        return {"first": first["data"], "second": second["data"]}

    parent_id = _on_another_partition(await harness.log(), harness.namespace + "r", "gated")
    handle = await restart_parent.invoke(client, execution_id=parent_id)
    child_id = f"{parent_id}:gated"
    await assert_eventually(lambda: RAN.get(child_id) == ["work 4"], timeout=30)
    await harness.stop_worker(worker)
    GATES[gate].set()
    await harness.worker(harness.tmp_path / "second")
    assert await handle.result(timeout=60) == {"first": 4, "second": 6}
    assert RAN[child_id] == ["work 4"], "the child's finished step did not run again"


@workflow
async def t_unknown_child(ctx: WorkflowContext) -> dict:
    try:
        await ctx.step.invoke_and_wait("ghost", "no_such_workflow", {"x": 1})
    except StepExecutionError as exc:
        return {"code": exc.cause_code, "message": str(exc)}
    return {}


async def test_an_unknown_child_workflow_fails_with_a_clear_error(harness):
    await harness.worker()
    client = await harness.client()
    handle = await t_unknown_child.invoke(client)
    result = await handle.result(timeout=60)
    assert result["code"] == "UNKNOWN_WORKFLOW" and "no_such_workflow" in result["message"]
    assert f"{handle.execution_id}:ghost" in result["message"]


@workflow
async def t_bloated_child(ctx: WorkflowContext) -> None:
    await ctx.state.set("blob", "x" * (1024 * 1024 + 1))
    await ctx.step.run("grow", note, "grow")


@workflow
async def t_bloated_parent(ctx: WorkflowContext) -> dict:
    results = await ctx.step.batch_invoke_and_wait(
        "kids", [BatchWorkflowInput(t_bloated_child), BatchWorkflowInput(t_child, {"data": 1})]
    )
    return {"success": [r.success for r in results], "error": results[0].error}


async def test_a_child_failing_on_its_state_limit_is_a_failed_child_not_a_failed_parent(harness):
    await harness.worker()
    client = await harness.client()
    result = await t_bloated_parent.run(client, timeout=60)
    assert result["success"] == [False, True]
    assert "StateTooLargeError" in result["error"] and "1048576" in result["error"]


async def test_client_batch_invoke_checks_every_input_before_starting_any(harness):
    await harness.worker()
    client = await harness.client()
    before = len(await client.list_executions())
    with pytest.raises(InputValidationError):
        await client.batch_invoke(
            [
                BatchWorkflowInput(t_child, {"data": 1}),
                BatchWorkflowInput(t_child, {"data": 2}, initial_state={"seen": "many"}),
            ]
        )
    assert len(await client.list_executions()) == before, "nothing was started"
