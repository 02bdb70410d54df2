"""Behaviour of durable workflows, on both logs (real Kafka included)."""

import asyncio
from collections import Counter

import pydantic
import pytest
from helpers import assert_eventually

from engine import (
    FunctionContext,
    InputValidationError,
    StepExecutionError,
    TerminalError,
    WorkflowContext,
    WorkflowFailedError,
    current_step,
    function,
    workflow,
)
from engine.errors import RetryableError

RUNS: Counter = Counter()  # (execution_id, step) -> times the body ran
GATES: dict[str, asyncio.Event] = {}
ORDER_FLIP: set[str] = set()


class OrderInput(pydantic.BaseModel):
    order_id: str
    amount: float


def validate_order(order: OrderInput) -> dict:
    RUNS[(current_step().execution_id, "validate")] += 1
    return {"order_id": order.order_id, "amount": order.amount}


async def charge_card(order: dict) -> dict:
    RUNS[(current_step().execution_id, "charge")] += 1
    return {"id": "ch_" + order["order_id"]}


@function
async def send_confirmation(ctx: FunctionContext, order_id: str, charge_id: str) -> str:
    RUNS[(ctx.execution_id, "confirm")] += 1
    return f"{order_id}:{charge_id}:{ctx.idempotency_key}"


@workflow
async def t_process_order(ctx: WorkflowContext, input: OrderInput) -> dict:
    order = await ctx.step.run("validate", validate_order, input)
    charge = await ctx.step.run("charge", charge_card, order)
    confirmation = await ctx.step(send_confirmation, input.order_id, charge["id"])
    return {
        "status": "completed",
        "charge_id": charge["id"],
        "confirmation": confirmation,
        "ids": [ctx.execution_id, ctx.workflow_id, ctx.user_id],
        "started_after_created": ctx.started_at >= ctx.created_at,
    }


async def test_order_workflow_runs_both_call_styles(harness):
    await harness.worker()
    client = await harness.client()
    handle = await t_process_order.invoke(client, {"order_id": "o1", "amount": 9.5}, user_id="u1")
    result = await handle.result(timeout=30)
    eid = handle.execution_id
    assert result == {
        "status": "completed",
        "charge_id": "ch_o1",
        "confirmation": f"o1:ch_o1:{eid}/send_confirmation:1",
        "ids": [eid, "t_process_order", "u1"],
        "started_after_created": True,
    }
    assert [RUNS[(eid, s)] for s in ("validate", "charge", "confirm")] == [1, 1, 1]
    execution = await client.get_execution(eid)
    assert execution.status == "completed" and execution.result == result and execution.user_id == "u1"
    types = [r.type for r in await client.history(eid, include_claims=False)]
    assert types == [
        "InvocationRequested",
        "ExecutionStarted",
        "StepCompleted",
        "StepCompleted",
        "StepCompleted",
        "ExecutionCompleted",
    ]


@workflow
async def t_by_name(ctx: WorkflowContext, order_id: str, count: int = 2) -> list:
    async def one(i):
        return f"{order_id}-{i}"

    return list(await asyncio.gather(*[ctx.step.run(f"part{i}", one, i) for i in range(count)]))


async def test_gather_over_steps_and_binding_by_name(harness):
    await harness.worker()
    client = await harness.client()
    assert await t_by_name.run(client, {"order_id": "o2", "count": 5}, timeout=30) == [f"o2-{i}" for i in range(5)]


async def test_invalid_payload_starts_nothing(harness):
    await harness.worker()
    client = await harness.client()
    log = await harness.log()
    before = [await log.end_offset(p) for p in range(log.num_partitions)]
    with pytest.raises(InputValidationError, match="amount"):
        await t_process_order.invoke(client, {"order_id": "o1"})
    assert [await log.end_offset(p) for p in range(log.num_partitions)] == before


async def test_invoking_twice_with_one_id_starts_one_execution(harness):
    await harness.worker()
    client = await harness.client()
    eid = f"{harness.namespace}-dup"
    first = await t_process_order.invoke(client, {"order_id": "d", "amount": 1}, execution_id=eid)
    second = await t_process_order.invoke(client, {"order_id": "d", "amount": 1}, execution_id=eid)
    assert await first.result(timeout=30) == await second.result(timeout=30)
    assert RUNS[(eid, "charge")] == 1
    history = await client.history(eid, include_claims=False)
    invocations = [r.outcome for r in history if r.type == "InvocationRequested"]
    assert invocations[0] == "applied" and len(invocations) == 2 and invocations[1].startswith("duplicate")


ATTEMPTS: Counter = Counter()


async def flaky(fail_times: int) -> str:
    info = current_step()
    ATTEMPTS[info.execution_id] += 1
    if ATTEMPTS[info.execution_id] <= fail_times:
        raise ConnectionError(f"attempt {info.attempt} failed")
    return f"ok after {info.attempt}"


async def terminal() -> str:
    ATTEMPTS[current_step().execution_id] += 1
    raise TerminalError("card declined")


@workflow
async def t_retries(ctx: WorkflowContext, fail_times: int, terminal_step: bool = False, catch: bool = False):
    try:
        if terminal_step:
            return await ctx.step.run("pay", terminal, max_retries=5, base_delay=0.01)
        return await ctx.step.run("pay", flaky, fail_times, max_retries=2, base_delay=0.05, max_delay=0.1)
    except StepExecutionError as exc:
        if catch:
            return {"caught": exc.error_type, "step": exc.step}
        raise


async def test_retries_with_backoff_then_success(harness):
    await harness.worker()
    client = await harness.client()
    handle = await t_retries.invoke(client, {"fail_times": 2})
    assert await handle.result(timeout=30) == "ok after 3"
    history = await client.history(handle.execution_id, include_claims=False)
    failed = [r for r in history if r.type == "StepAttemptFailed"]
    assert [r.fields["attempt"] for r in failed] == [1, 2]
    assert failed[1].fields["retry_at"] - failed[0].fields["retry_at"] >= 40  # backoff grew: 50 ms then 100 ms


async def test_exhausted_retries_fail_the_workflow_with_step_execution_error(harness):
    await harness.worker()
    client = await harness.client()
    handle = await t_retries.invoke(client, {"fail_times": 10})
    with pytest.raises(WorkflowFailedError) as info:
        await handle.result(timeout=30)
    assert info.value.error["code"] == "STEP_FAILED" and info.value.error["step"] == "pay"
    assert "ConnectionError" in info.value.error["message"] and "3 attempts" in info.value.error["message"]
    assert ATTEMPTS[handle.execution_id] == 3
    ended = await handle.wait(timeout=30)  # however it ended, as it ended: no error raised
    assert ended.execution_id == handle.execution_id and ended.status == "failed"
    assert ended.error == info.value.error and ended.completed_at is not None


async def test_terminal_error_is_never_retried_and_can_be_caught(harness):
    await harness.worker()
    client = await harness.client()
    handle = await t_retries.invoke(client, {"fail_times": 0, "terminal_step": True, "catch": True})
    assert await handle.result(timeout=30) == {"caught": "TerminalError", "step": "pay"}
    assert ATTEMPTS[handle.execution_id] == 1


@function(retries=3, backoff=0.01)
async def agnt5_flaky(ctx: FunctionContext) -> int:
    ATTEMPTS[ctx.execution_id] += 1
    if ctx.attempt < 3:
        raise RetryableError("not yet", retry_after=0.01)
    return ctx.attempt


@workflow
async def t_function_retries(ctx: WorkflowContext) -> int:
    return await ctx.step(agnt5_flaky)


async def test_function_decorator_retry_policy(harness):
    await harness.worker()
    client = await harness.client()
    handle = await t_function_retries.invoke(client)
    assert await handle.result(timeout=30) == 3
    assert ATTEMPTS[handle.execution_id] == 3


async def not_serialisable():
    return object()


@workflow
async def t_bad_result(ctx: WorkflowContext):
    return await ctx.step.run("make", not_serialisable)


async def test_non_serialisable_step_result_names_the_step_and_execution(harness):
    await harness.worker()
    client = await harness.client()
    handle = await t_bad_result.invoke(client)
    with pytest.raises(WorkflowFailedError) as info:
        await handle.result(timeout=30)
    message = info.value.error["message"]
    assert "'make'" in message and handle.execution_id in message and "SerializationError" in message


async def test_unknown_workflow_fails_clearly_and_the_partition_keeps_going(harness):
    await harness.worker()
    client = await harness.client()
    handle = await client.invoke("no_such_workflow", {}, execution_id=f"{harness.namespace}-unknown")
    with pytest.raises(WorkflowFailedError) as info:
        await handle.result(timeout=30)
    assert info.value.error["code"] == "UNKNOWN_WORKFLOW" and "no_such_workflow" in info.value.error["message"]
    # the same partition still processes work
    key = next(
        f"after-{i}"
        for i in range(1000)
        if client.log.partition_for(f"after-{i}") == client.log.partition_for(handle.execution_id)
    )
    ok = await t_process_order.invoke(client, {"order_id": "z", "amount": 1}, execution_id=key)
    assert (await ok.result(timeout=30))["status"] == "completed"


@workflow
async def t_gated(ctx: WorkflowContext, name: str) -> list:
    flip = name in ORDER_FLIP
    first = await ctx.step.run("b" if flip else "a", charge_card, {"order_id": name})
    await ctx.step.run("wait", GATES[name].wait)
    second = await ctx.step.run("after", charge_card, {"order_id": name + "-2"})
    return [first["id"], second["id"]]


async def _stop_after_first_step(harness, suffix: str):
    """Run t_gated until step "a" is recorded, then stop the worker. Returns (name, handle)."""
    name = f"{harness.namespace}-{suffix}"
    GATES[name] = asyncio.Event()
    worker = await harness.worker()
    client = await harness.client()
    handle = await t_gated.invoke(client, {"name": name}, execution_id=name)

    async def recorded():
        try:
            history = await client.history(name, include_claims=False)
        except Exception:
            return False
        return any(r.type == "StepCompleted" and r.fields["key"] == "a" for r in history)

    await assert_eventually(recorded, timeout=30, message="step a recorded")
    await harness.stop_worker(worker)
    return name, handle


async def test_a_new_worker_resumes_without_rerunning_completed_steps(harness):
    name, handle = await _stop_after_first_step(harness, "resume")
    GATES[name].set()
    await harness.worker(harness.tmp_path / "second-worker")
    assert await handle.result(timeout=60) == [f"ch_{name}", f"ch_{name}-2"]
    assert RUNS[(name, "charge")] == 2  # "a" once, "after" once: "a" did not run again


async def test_replay_divergence_fails_with_nondeterminism_error(harness):
    name, handle = await _stop_after_first_step(harness, "diverge")
    ORDER_FLIP.add(name)  # the code now calls step "b" first
    GATES[name].set()
    await harness.worker()
    with pytest.raises(WorkflowFailedError) as info:
        await handle.result(timeout=60)
    error = info.value.error
    assert error["code"] == "NONDETERMINISM" and error["type"] == "NondeterminismError"
    assert "'a'" in error["message"] and "'b'" in error["message"] and "position 1" in error["message"]
