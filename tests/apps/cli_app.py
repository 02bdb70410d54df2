"""Workflows for the CLI tests (tests/integration/test_cli_answers.py): waits, retries, a slow step."""

import asyncio
import os
from pathlib import Path

from engine import RetryableError, SchedulePayload, WorkflowContext, current_step, event, queue, workflow


@workflow
async def approval(ctx: WorkflowContext, order_id: str) -> dict:
    await ctx.step.run("check", lambda: order_id.upper())
    answer = await ctx.step.suspend("approval", {"question": f"approve {order_id}?"})
    return {"order_id": order_id, "approved": answer.data}


@workflow
async def pickup(ctx: WorkflowContext, order_id: str) -> dict:
    event = await ctx.step.wait_for_event("pickup", topic=f"pickups/{order_id}")
    return {"order_id": order_id, "picked_up": event.data}


@workflow
async def echo(ctx: WorkflowContext, text: str) -> str:
    return await ctx.step.run("echo", lambda: text)


@workflow
async def book_trip(ctx: WorkflowContext, trip: str) -> str:
    return await ctx.step.run("book", lambda: f"booked {trip}")


async def always_fails() -> None:
    raise RetryableError("the payment service said no", retry_after=0.05)


@workflow
async def flaky(ctx: WorkflowContext) -> None:
    await ctx.step.run("charge", always_fails, max_retries=1)


async def slow(seconds: float, marker: str) -> str:
    """Writes ``marker.started`` at once and ``marker.done`` when it finishes."""
    Path(f"{marker}.started").write_text(current_step().execution_id)
    await asyncio.sleep(seconds)
    Path(f"{marker}.done").write_text(str(os.getpid()))
    return "slept"


@workflow
async def slow_steps(ctx: WorkflowContext, seconds: float, marker: str) -> str:
    await ctx.step.run("first", slow, seconds, marker)
    await ctx.step.run("second", slow, seconds, f"{marker}-2")
    return "done"


@workflow
async def two_approvals(ctx: WorkflowContext, order_id: str) -> list:
    first = await ctx.step.suspend("approval")
    second = await ctx.step.suspend("confirm")
    return [first.data, second.data]


@workflow(triggers=[event(os.environ.get("LOGLOOM_CLI_TEST_TOPIC", "cli-test-signups"))])
async def welcome(ctx: WorkflowContext, user_id: str) -> str:
    return f"welcome {user_id}"


@workflow
async def tick_report(ctx: WorkflowContext, input: SchedulePayload) -> str:
    return f"report for {input.timestamp.isoformat()}"


CLI_QUEUE = queue("cli-q", concurrency_limit=1)


@workflow(queue=CLI_QUEUE)
async def queued_echo(ctx: WorkflowContext, text: str) -> str:
    return text
