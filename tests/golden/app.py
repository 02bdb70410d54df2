"""The workflows of the golden histories (tests/golden/README.md): between them they write
every record type. Change one on purpose only with ``ctx.patched``, and record again."""

from __future__ import annotations

import asyncio

from engine import (
    RateLimit,
    RetryableError,
    SchedulePayload,
    TerminalError,
    WaitTimeoutError,
    WorkflowContext,
    queue,
    workflow,
)

ATTEMPTS: dict[str, int] = {}

golden_queue = queue("golden", concurrency_limit=1, rate_limit=RateLimit(limit=1, period_s=0.5))


def flaky_once(tag: str) -> str:
    ATTEMPTS[tag] = ATTEMPTS.get(tag, 0) + 1
    if ATTEMPTS[tag] == 1:
        raise RetryableError("the first attempt fails", retry_after=0.05)
    return f"ok after {ATTEMPTS[tag]}"


def declined() -> None:
    raise TerminalError("declined")


@workflow
async def g_child(ctx: WorkflowContext, n: int) -> int:
    return await ctx.step.run("square", lambda: n * n)


@workflow
async def g_everything(ctx: WorkflowContext, tag: str, topic: str) -> dict:
    """Steps (one retried), a sleep, parallel steps, a child, an event and a person."""
    first = await ctx.step.run("first", lambda: tag.upper())
    retried = await ctx.step.run("retried", flaky_once, tag, max_retries=2)
    await ctx.sleep(0.05)
    left, right = await asyncio.gather(ctx.step.run("left", lambda: 1), ctx.step.run("right", lambda: 2))
    squared = await ctx.step.invoke_and_wait("child", g_child, {"n": 3})
    event = await ctx.step.wait_for_event("event", topic)
    answer = await ctx.wait_for_user("ship it?", input_type="approval", name="approval")
    return {"first": first, "retried": retried, "sum": left + right, "squared": squared,
            "event": event.data, "answer": answer}  # fmt: skip


@workflow
async def g_fails(ctx: WorkflowContext) -> None:
    await ctx.step.run("ok", lambda: "fine")
    await ctx.step.run("declined", declined)


@workflow
async def g_cancelled(ctx: WorkflowContext) -> None:
    await ctx.step.run("before", lambda: "ran")
    await ctx.step.suspend("forever")


@workflow
async def g_session(ctx: WorkflowContext, item: str) -> list:
    items = await ctx.session.state.get("items", [])
    await ctx.session.state.set("items", [*items, item])
    return [*items, item]


@workflow(queue=golden_queue)
async def g_queued(ctx: WorkflowContext, tag: str) -> str:
    await ctx.sleep(0.05)  # parks: gives its slot back
    return await ctx.step.run("work", lambda: f"queued {tag}")


@workflow
async def g_scheduled(ctx: WorkflowContext, input: SchedulePayload) -> str:
    return await ctx.step.run("tick", lambda: f"tick of {input.schedule_id}")


@workflow
async def g_patched(ctx: WorkflowContext, n: int) -> int:
    if await ctx.patched("double-first"):
        n = await ctx.step.run("double", lambda: n * 2)
    return await ctx.step.run("add", lambda: n + 1)


@workflow
async def g_event_timeout(ctx: WorkflowContext, topic: str) -> str:
    try:
        await ctx.step.wait_for_event("late", topic, timeout=0.2)
    except WaitTimeoutError:
        return "timed out"  # its registration is closed (WaitClosed)
    return "delivered"
