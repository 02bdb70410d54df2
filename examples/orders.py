"""The order workflow from the README: two Polos-style steps and one AGNT5-style step."""

from pydantic import BaseModel

from engine import FunctionContext, WorkflowContext, function, workflow


class OrderInput(BaseModel):
    order_id: str
    amount: float


def validate_order(order: OrderInput) -> dict:
    if order.amount <= 0:
        raise ValueError("amount must be positive")
    return {"order_id": order.order_id, "amount": order.amount}


async def charge_card(order: dict) -> dict:
    return {"id": f"ch_{order['order_id']}", "amount": order["amount"]}


@function(retries=2, backoff=0.5)
async def send_confirmation(ctx: FunctionContext, order_id: str, charge_id: str) -> str:
    # ctx.idempotency_key is stable across retries and restarts: pass it to external APIs.
    return f"confirmation for {order_id} ({charge_id}), idempotency key {ctx.idempotency_key}"


@workflow
async def process_order(ctx: WorkflowContext, input: OrderInput) -> dict:
    order = await ctx.step.run("validate", validate_order, input)  # Polos style
    charge = await ctx.step.run("charge", charge_card, order)
    await ctx.step(send_confirmation, input.order_id, charge["id"])  # AGNT5 style
    return {"status": "completed", "charge_id": charge["id"]}
