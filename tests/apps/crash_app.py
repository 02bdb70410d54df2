"""Workflows for the crash tests. Step bodies append `execution,step,event,pid` lines to
the file named by LOGLOOM_TEST_EFFECTS, so a test can count how often each body ran."""

import asyncio
import os
import time

from engine import SchedulePayload, WorkflowContext, WorkflowState, current_step, queue, workflow

EFFECTS = os.environ.get("LOGLOOM_TEST_EFFECTS", "/dev/null")
GATES = os.environ.get("LOGLOOM_TEST_GATES", "/nonexistent")


def _effect(event: str) -> None:
    info = current_step()
    line = f"{info.execution_id},{info.key},{event},{os.getpid()}\n"
    fd = os.open(EFFECTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


async def inc(x: int) -> int:
    _effect("ran")
    return x + 1


async def gated_inc(x: int) -> int:
    """Blocks until the gate file for this execution exists."""
    _effect("start")
    gate = os.path.join(GATES, current_step().execution_id)
    while not os.path.exists(gate):
        await asyncio.sleep(0.05)
    _effect("ran")
    return x + 1


def slow(seconds: float) -> int:
    """A sync step body: runs on a worker thread, so a SIGSTOP freezes it mid-sleep."""
    _effect("start")
    time.sleep(seconds)
    _effect("ran")
    return os.getpid()


@workflow
async def crashy(ctx: WorkflowContext, n: int) -> dict:
    a = await ctx.step.run("one", inc, n)
    b = await ctx.step.run("two", inc, a)
    c = await ctx.step.run("three", gated_inc, b)
    return {"value": c, "pid": os.getpid()}


@workflow
async def zombie(ctx: WorkflowContext, seconds: float) -> dict:
    pid = await ctx.step.run("slow", slow, seconds)
    return {"step_pid": pid, "pid": os.getpid()}


@workflow
async def napper(ctx: WorkflowContext, seconds: float) -> dict:
    await ctx.step.run("before", inc, 0)
    await ctx.sleep(seconds)
    await ctx.step.run("after", inc, 1)
    return {"pid": os.getpid()}


@workflow
async def approval(ctx: WorkflowContext, amount: float) -> dict:
    await ctx.step.run("before", inc, 0)
    decision = await ctx.step.suspend("approval", data={"amount": amount})
    await ctx.step.run("after", inc, 1)
    return {"approved": decision.data["approved"], "pid": os.getpid()}


TRIGGER_TOPIC = os.environ.get("LOGLOOM_TEST_TOPIC", "test.signup")


@workflow(trigger_on_event=TRIGGER_TOPIC)
async def on_signup(ctx: WorkflowContext, user_id: str, n: int) -> dict:
    await ctx.step.run("record", inc, n)
    return {"user_id": user_id}


PICKUP_TOPIC = os.environ.get("LOGLOOM_TEST_PICKUP_TOPIC", "test.pickup")


@workflow
async def await_pickup(ctx: WorkflowContext, order_id: str) -> dict:
    await ctx.step.run("before", inc, 0)
    event = await ctx.step.wait_for_event("pickup", topic=f"{PICKUP_TOPIC}/{order_id}")
    await ctx.step.run("after", inc, event.data["n"])
    return {"n": event.data["n"], "pid": os.getpid()}


async def batch_item(i: int) -> int:
    await asyncio.sleep(0.1)
    _effect("ran")
    return i * 2


@workflow
async def batch_items(ctx: WorkflowContext, n: int) -> dict:
    batch = await ctx.batch(batch_item, [{"i": i} for i in range(n)], max_concurrency=10)
    return {"completed": batch.stats.completed_items, "sum": sum(batch.results), "pid": os.getpid()}


class Tally(WorkflowState):
    count: int = 0
    seen: list[int] = []


async def tally_item(i: int, count: int) -> int:
    """Notes the state's count the workflow passed in: after a crash it must be as before."""
    await asyncio.sleep(0.05)
    _effect(f"saw{count}")
    _effect("ran")
    return i


@workflow(state_schema=Tally)
async def tally(ctx: WorkflowContext, n: int) -> dict:
    for i in range(n):
        await ctx.step.run(f"item{i}", tally_item, i, ctx.state.count)
        ctx.state.count += 1
        ctx.state.seen.append(i)
    return {"state": ctx.state.model_dump(), "pid": os.getpid()}


@workflow
async def kid(ctx: WorkflowContext, n: int) -> dict:
    a = await ctx.step.run("one", inc, n)
    b = await ctx.step.run("two", gated_inc, a)
    return {"value": b, "pid": os.getpid()}


@workflow
async def family(ctx: WorkflowContext, n: int) -> dict:
    a = await ctx.step.run("before", inc, n)
    child = await ctx.step.invoke_and_wait("kid", kid, {"n": a})
    c = await ctx.step.run("after", inc, child["value"])
    return {"value": c, "kid_pid": child["pid"], "pid": os.getpid()}


async def record_tick() -> str:
    _effect("ran")  # the tick's run id, "tick", "ran", pid
    return "ticked"


@workflow
async def ticker(ctx: WorkflowContext, input: SchedulePayload) -> str:
    """Scheduled by the schedule chaos tests (``logloom schedule create ticker ...``)."""
    return await ctx.step.run("tick", record_tick)


CHAOS_QUEUE = queue("chaos-q", concurrency_limit=5)


async def hold_slot(i: int) -> int:
    """Writes when this attempt starts and ends, with the time: the chaos test counts the
    attempts inside at every instant."""
    info = current_step()
    for event in ("start", "end"):
        line = f"{info.execution_id},{i},{event},{os.getpid()},{time.time():.6f}\n"
        fd = os.open(EFFECTS, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        if event == "start":
            await asyncio.sleep(0.1)
    return i


@workflow(queue=CHAOS_QUEUE)
async def limited(ctx: WorkflowContext, i: int) -> int:
    """On a queue of 5 (tests/chaos/test_queue_crashes.py)."""
    return await ctx.step.run("hold", hold_slot, i)
