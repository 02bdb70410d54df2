"""Debugging a failed run offline (docs/replay.md): export, replay, rerun.

``checkout`` reserves stock, prices the order, charges the card and sends a receipt. The
charge has a bug: its limit is in cents where the price is in euros, so any order over
100 fails at ``charge``. ``CHECKOUT_LIMIT`` is the fix a deploy brings
(``CHECKOUT_LIMIT=100000``).
"""

import os

from engine import TerminalError, WorkflowContext, workflow

STOCK_RESERVED = []  # what a real reservation system would record


def reserve(order_id: str) -> str:
    STOCK_RESERVED.append(order_id)
    return f"res-{order_id}"


def price(amount: int) -> int:
    return amount + amount // 10  # with 10% tax


def charge_card(order_id: str, total: int) -> str:
    limit = int(os.environ.get("CHECKOUT_LIMIT", "100"))  # the bug: should be 100000 (cents)
    if total > limit:
        raise TerminalError(f"card declined: {total} is over the limit {limit}")
    return f"ch-{order_id}"


def send_receipt(order_id: str, charge_id: str) -> str:
    return f"receipt for {order_id}: {charge_id}"


@workflow
async def checkout(ctx: WorkflowContext, order_id: str, amount: int) -> dict:
    reservation = await ctx.step.run("reserve", reserve, order_id)
    total = await ctx.step.run("price", price, amount)
    charge_id = await ctx.step.run("charge", charge_card, order_id, total)
    receipt = await ctx.step.run("receipt", send_receipt, order_id, charge_id)
    return {"reservation": reservation, "total": total, "receipt": receipt}
