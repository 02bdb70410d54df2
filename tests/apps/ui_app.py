"""Workflows for the web UI's tests (tests/integration/test_ui_pages.py, test_ui_browser.py):
steps, a retry, a sleep, a child run, state, each kind of suspension, a queue, an agent.

``make_registry(model_url)`` builds them in a registry of their own, the agent talking to
the scripted model server at ``model_url``."""

from __future__ import annotations

import uuid

from engine import Agent, RetryableError, TerminalError, WorkflowContext, WorkflowState, current_step, queue, tool
from engine.workflow import Registry

QUEUE = queue(f"uiq{uuid.uuid4().hex[:8]}", concurrency_limit=1)
AGENT = "ui_helper"
TOKEN = "ui-s3cret"


async def bump(x: int) -> int:
    return x + 1


async def flaky(x: int) -> int:
    if current_step().attempt < 2:
        raise RetryableError("not yet")
    return x * 10


class Counter(WorkflowState):
    count: int = 0


async def ui_add(ctx: WorkflowContext, a: int, b: int) -> int:
    return await ctx.step.run("add", bump, a + b - 1)


async def ui_fail(ctx: WorkflowContext) -> None:
    raise TerminalError("card declined")


async def ui_kid(ctx: WorkflowContext, x: int) -> int:
    return await ctx.step.run("double", bump, 2 * x - 1)


async def ui_tour(ctx: WorkflowContext, order: str) -> dict:
    """A bit of everything: steps that change state, a retry, a sleep, a child, a question."""
    ctx.state.count += 1
    x = await ctx.step.run("prepare", bump, 1)
    ctx.state.count += 1
    y = await ctx.step.run("flaky", flaky, x, max_retries=3, base_delay=0.05)
    await ctx.sleep(0.1)
    z = await ctx.step.invoke_and_wait("kid", "ui_kid", {"x": y})
    color = await ctx.wait_for_user(
        f"Gift wrap for {order}?",
        input_type="select",
        options=[{"id": "red", "label": "Red"}, {"id": "gold", "label": "Gold"}],
    )
    return {"order": order, "kid": z, "color": color}


async def ui_approval(ctx: WorkflowContext, order: str, pause_s: float = 0.0) -> dict:
    await ctx.step.run("prepare", bump, 1)
    approved = await ctx.wait_for_user(f"Ship {order}?", input_type="approval", name="approval")
    if pause_s:  # the run goes on a while after the answer (its page follows it live)
        await ctx.sleep(pause_s)
    await ctx.step.run("ship" if approved else "drop", bump, 2)
    return {"order": order, "approved": approved}


async def ui_raw(ctx: WorkflowContext) -> object:
    """A suspension that asks with plain data: answered with JSON."""
    return (await ctx.step.suspend("decide", {"amount": 120})).data


async def ui_schema(ctx: WorkflowContext) -> object:
    schema = {
        "type": "object",
        "properties": {"qty": {"type": "integer"}, "note": {"type": "string"}, "rush": {"type": "boolean"}},
        "required": ["qty"],
    }
    return (await ctx.step.suspend("form", {"question": "How many?", "schema": schema})).data


async def ui_queued(ctx: WorkflowContext, n: int) -> int:
    return await ctx.step.run("work", bump, n)


@tool
async def lookup(sku: str) -> dict:
    """Stock for a SKU.

    Args:
        sku: the product's stock-keeping unit
    """
    return {"sku": sku, "in_stock": 3}


def make_registry(model_url: str | None = None) -> Registry:
    reg = Registry()
    for fn in (ui_add, ui_fail, ui_kid, ui_approval, ui_raw, ui_schema):
        reg.workflow(fn)
    reg.workflow(state_schema=Counter)(ui_tour)
    reg.workflow(queue=QUEUE)(ui_queued)
    if model_url is not None:
        Agent(
            id=AGENT, provider="openai", model="scripted-1", provider_base_url=model_url, registry=reg,
            api_key="test-key", tools=[lookup], retry_base_delay_s=0.05, system_prompt="You check stock.",
        )  # fmt: skip
    return reg
