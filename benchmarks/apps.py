"""Workflows the benchmarks run.

Imported by the harness (embedded log: the worker runs in the harness process) and
loaded by Kafka worker processes: ``python -m engine.cli worker benchmarks/apps.py ...``.
This file imports nothing from the ``benchmarks`` package, so it loads standalone.
"""

import asyncio
import os
import time

from engine import SchedulePayload, TerminalError, WorkflowContext, current_step, workflow


async def inc(x: int) -> int:
    return x + 1


@workflow(name="bench_w1")
async def bench_w1(ctx: WorkflowContext, x: int) -> int:
    """W1: three sequential durable steps, each returning its input + 1."""
    x = await ctx.step.run("s1", inc, x)
    x = await ctx.step.run("s2", inc, x)
    x = await ctx.step.run("s3", inc, x)
    return x


async def effect(path: str, execution_id: str, step: str, delay: float) -> str:
    """W3 step body: append ``execution,step`` to ``path`` (one O_APPEND write), then sleep."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{execution_id},{step}\n".encode())
    finally:
        os.close(fd)
    if delay:
        await asyncio.sleep(delay)  # a plain async step body, not a durable sleep
    return step


@workflow(name="bench_long")
async def bench_long(ctx: WorkflowContext, steps: int) -> int:
    """REPLAY: ``steps`` sequential durable steps (a long history to export and replay)."""
    x = 0
    for i in range(steps):
        x = await ctx.step.run(f"s{i}", inc, x)
    return x


@workflow(name="bench_w3")
async def bench_w3(ctx: WorkflowContext, effects: str) -> int:
    """W3: three steps, each appending a line to the ``effects`` file; step 2 sleeps 50 ms."""
    await ctx.step.run("s1", effect, effects, ctx.execution_id, "s1", 0)
    await ctx.step.run("s2", effect, effects, ctx.execution_id, "s2", 0.05)
    await ctx.step.run("s3", effect, effects, ctx.execution_id, "s3", 0)
    return 3


async def wall_clock() -> float:
    return time.time()


@workflow(name="bench_w4")
async def bench_w4(ctx: WorkflowContext, seconds: float) -> float:
    """W4: a durable sleep, then a step that returns the wall-clock time it ran at."""
    await ctx.sleep(seconds)
    return await ctx.step.run("woke", wall_clock)


@workflow(name="bench_tick")
async def bench_tick(ctx: WorkflowContext, input: SchedulePayload) -> float:
    """SCHED: started by an every-second schedule; a step returns the wall-clock time it ran at."""
    return await ctx.step.run("ran", wall_clock)


@workflow(name="bench_park")
async def bench_park(ctx: WorkflowContext, i: int) -> dict:
    """MEM: suspend until resumed (no timeout), return the resume payload."""
    resumed = await ctx.step.suspend("park")
    return resumed.data


@workflow
async def bench_w2(ctx: WorkflowContext, topic: str, key: str) -> int:
    """W2: wait for the event on topic/key, then finish."""
    event = await ctx.step.wait_for_event("wait", topic=f"{topic}/{key}")
    return event.offset


@workflow(name="bench_child")
async def bench_child(ctx: WorkflowContext, x: int) -> int:
    """FANOUT: one durable step."""
    return await ctx.step.run("s1", inc, x)


@workflow(name="bench_fanout")
async def bench_fanout(ctx: WorkflowContext, n: int) -> int:
    """FANOUT: start n children at once and wait for all of them."""
    from engine import BatchWorkflowInput

    results = await ctx.step.batch_invoke_and_wait(
        "children", [BatchWorkflowInput(id="bench_child", payload={"x": i}) for i in range(n)]
    )
    return sum(r.result for r in results if r.success)


@workflow(name="bench_batch")
async def bench_batch(ctx: WorkflowContext, n: int, max_concurrency: int) -> int:
    """FANOUT: ctx.batch of n items, one durable step each."""
    batch = await ctx.batch(inc, list(range(n)), max_concurrency=max_concurrency)
    return sum(batch.results)


async def refuse_every_tenth(i: int) -> int:
    if i % 10 == 0:
        raise TerminalError(f"run {i} is refused")
    return i


@workflow(name="bench_audit")
async def bench_audit(ctx: WorkflowContext, i: int) -> int:
    """AUDIT: one step; every tenth run fails (a listing of failures has 1 in 10)."""
    return await ctx.step.run("check", refuse_every_tenth, i)


async def noted(path: str, execution_id: str, step: str, x: int) -> int:
    """FAULTS step body: append ``execution,step,started ms,pid`` to ``path`` (one O_APPEND
    write); started: when the worker started this attempt (``current_step().started_at_ms``)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{execution_id},{step},{current_step().started_at_ms},{os.getpid()}\n".encode())
    finally:
        os.close(fd)
    return x + 1


@workflow(name="bench_fault")
async def bench_fault(ctx: WorkflowContext, effects: str, x: int) -> int:
    """FAULTS: W1's three steps, each body noting when it ran in the ``effects`` file."""
    for step in ("s1", "s2", "s3"):
        x = await ctx.step.run(step, noted, effects, ctx.execution_id, step, x)
    return x
