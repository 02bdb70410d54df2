"""Durable agents (docs/agents.md): an order validator with a tool and a typed answer, a
triage agent that hands off and asks a person before it refunds, and a workflow that
calls an agent as a step.

With OPENAI_API_KEY and ANTHROPIC_API_KEY set, the agents call OpenAI and Anthropic.
Without them they call the scripted model server of ``engine.agents.testing`` on
loopback, and say so; the engine does not know the difference.

    python examples/agents.py        # every feature, one process, embedded log
    logloom run examples/agents.py:process_order --input '{"order_id": "o-1", "sku": "A1", "quantity": 2}'
"""

import asyncio
import os
import re
import sys
import tempfile

from pydantic import BaseModel

from engine import (
    Agent,
    Client,
    EmbeddedLog,
    ExecutionNotFoundError,
    MaxStepsConfig,
    Worker,
    WorkflowContext,
    max_steps,
    tool,
    workflow,
)

# -- the model: real providers, or the scripted server ------------------------------------------

SCRIPTED = not (os.environ.get("OPENAI_API_KEY") and os.environ.get("ANTHROPIC_API_KEY"))


def scripted_model(request):
    """What the scripted server answers, by agent (its model name) and by conversation."""
    from engine.agents.testing import reply, tool_call

    said = " ".join(request.user_texts())
    results = request.tool_results()
    if request.model == "gpt-4o":  # the order validator
        if not results:
            sku = re.search(r"sku\W*(\w+)", said, re.IGNORECASE)
            return reply(tool_calls=[tool_call("check_inventory", {"sku": sku.group(1) if sku else "?"})])
        in_stock = int(re.search(r'"in_stock":\s*(\d+)', results[-1]).group(1))
        quantity = int((re.search(r"quantity\W*(\d+)", said) or re.search(r"(\d+)", "1")).group(1))
        valid = in_stock >= quantity
        reason = f"{in_stock} in stock for {quantity} ordered"
        return reply(f'{{"valid": {str(valid).lower()}, "reason": "{reason}"}}')
    if results:  # triage, after the refund tool
        return reply(f"Done: {results[-1]}")
    if "charged twice" in said:
        return reply(tool_calls=[tool_call("issue_refund", {"order_id": "o-3", "amount": 42.5})])
    if "parcel" in said:
        return reply("Your parcel left our warehouse this morning and arrives tomorrow.", chunk_delay_s=0.02)
    return reply("Let me pass you to our order desk.", [tool_call("transfer_to_order_validator", {})])


if SCRIPTED:
    from engine.agents.testing import ScriptedModelServer

    _server = ScriptedModelServer(scripted_model).start()
    OPENAI = {"provider_base_url": _server.openai_base_url, "api_key": "scripted"}
    ANTHROPIC = {"provider_base_url": _server.anthropic_base_url, "api_key": "scripted"}
    print(f"no OPENAI_API_KEY and ANTHROPIC_API_KEY: the agents talk to the scripted model server at "
          f"{_server.url}", file=sys.stderr)  # fmt: skip
else:
    OPENAI = ANTHROPIC = {}


# -- tools and agents -------------------------------------------------------------------------


class Stock(BaseModel):
    sku: str
    in_stock: int


@tool
async def check_inventory(ctx, sku: str) -> Stock:
    """Current stock for a SKU."""  # the docstring and type hints become the tool's JSON schema
    return Stock(sku=sku, in_stock={"A1": 5, "B7": 0}.get(sku, 3))


@tool(approval="always")  # runs only after a person approves (logloom resume / client.resume)
async def issue_refund(ctx, order_id: str, amount: float) -> dict:
    """Refund an order."""
    return {"order_id": order_id, "refunded": amount}


class Verdict(BaseModel):
    valid: bool
    reason: str


order_validation_agent = Agent(  # Polos style
    id="order_validator",
    provider="openai",
    model="gpt-4o",
    system_prompt="You validate orders: check the stock of the SKU against the quantity.",
    tools=[check_inventory],
    output_schema=Verdict,
    stop_conditions=[max_steps(MaxStepsConfig(count=8))],
    **OPENAI,
)

triage = Agent(  # AGNT5 style
    name="triage",
    model="anthropic/claude-sonnet-4-5",
    instructions="Route the customer: refunds you handle, order checks go to the order desk.",
    tools=[issue_refund],
    handoffs=[order_validation_agent],
    **ANTHROPIC,
)


# -- a workflow that calls an agent as a step ------------------------------------------------


class OrderInput(BaseModel):
    order_id: str
    sku: str
    quantity: int


@workflow
async def process_order(ctx: WorkflowContext, order: OrderInput) -> dict:
    validation = await ctx.step.agent_invoke_and_wait(
        "validate_order",
        order_validation_agent.with_input(f"Validate this order: sku {order.sku}, quantity {order.quantity}"),
    )
    if not validation.result.valid:
        return {"status": "invalid", "reason": validation.result.reason}
    return {"status": "accepted", "order_id": order.order_id, "tokens": validation.usage.total_tokens}


# -- python examples/agents.py: each way in, on the embedded log -------------------------------


async def until_waiting(client: Client, execution_id: str) -> None:
    while True:
        try:
            if (await client.get_execution(execution_id)).status == "waiting":
                return
        except ExecutionNotFoundError:
            pass  # invoked, and not on the journal's fold yet
        await asyncio.sleep(0.05)


async def main() -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        log = EmbeddedLog(data_dir, "agents-example", partitions=4)
        await log.start()
        worker = await Worker(log, data_dir=f"{data_dir}/stores").start()
        client = Client(log)
        try:
            print("1.", await process_order.run(client, {"order_id": "o-1", "sku": "A1", "quantity": 2}, timeout=60))

            result = await triage.run(client, "Can you check my order? sku B7, quantity 1", session_id="cust-42")
            print(f"2. {result.agent} answered {result.result!r} after handoffs {result.handoffs}")

            handle = await triage.invoke(client, "I was charged twice for order o-3", session_id="cust-42")
            await until_waiting(client, handle.execution_id)
            print("3. the refund waits for a person; approving it")
            await client.resume(handle.execution_id, "approve:1.0:issue_refund", {"approved": True})
            print("  ", (await handle.result(timeout=60)).result)

            stream = await triage.stream(client, "Where is my parcel?")
            print("4. ", end="")
            async for chunk in stream.text_chunks:
                print(chunk, end="", flush=True)
            print(f"\n   ({(await stream.result()).usage.total_tokens} tokens)")
            print("5. session cust-42 used", (await client.get_session_state("cust-42"))["agent:triage:usage"])
        finally:
            await client.close()
            await worker.stop()
            await log.close()


if __name__ == "__main__":
    asyncio.run(main())
