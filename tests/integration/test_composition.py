"""Parallel steps and deterministic values, on both logs; both replay identically."""

import asyncio
from datetime import datetime

from engine import WorkflowContext, function, workflow

from helpers import assert_eventually

GATES: dict[str, asyncio.Event] = {}


@function
async def fetch_sales(ctx, n: int) -> int:
    return n * 10


@function
async def fetch_inventory(ctx, n: int) -> int:
    return n * 20


async def value(v):
    return v


@workflow
async def t_parallel(ctx: WorkflowContext, gate: str | None = None) -> dict:
    sales, inventory = await ctx.parallel(ctx.step(fetch_sales, 1), ctx.step(fetch_inventory, 1))
    data = await ctx.gather(revenue=ctx.step.run("revenue", value, 100), users=ctx.step.run("users", value, 7))
    a, b = await asyncio.gather(ctx.step.run("a", value, "A"), ctx.step.run("b", value, "B"))
    ident = await ctx.step.uuid("id")
    when = await ctx.step.now("when")
    luck = await ctx.step.random("luck")
    if gate:
        await ctx.step.run("gate", GATES[gate].wait)
    return {"parallel": [sales, inventory], "gather": data, "ab": [a, b], "uuid": ident,
            "now": when.isoformat(), "random": luck, "now_is_aware": when.tzinfo is not None}


async def test_parallel_gather_and_asyncio_gather(harness):
    await harness.worker()
    client = await harness.client()
    result = await t_parallel.run(client, timeout=30)
    assert result["parallel"] == [10, 20] and result["gather"] == {"revenue": 100, "users": 7}
    assert result["ab"] == ["A", "B"] and result["now_is_aware"] and 0 <= result["random"] < 1
    assert len(result["uuid"]) == 36 and isinstance(datetime.fromisoformat(result["now"]), datetime)


async def test_deterministic_values_are_the_same_after_a_restart(harness):
    gate = f"{harness.namespace}-det"
    GATES[gate] = asyncio.Event()
    worker = await harness.worker()
    client = await harness.client()
    handle = await t_parallel.invoke(client, {"gate": gate})

    async def recorded():
        history = await client.history(handle.execution_id, include_claims=False)
        return [r for r in history if r.type == "StepCompleted" and r.fields["key"] in ("id", "when", "luck")]
    first = await assert_eventually(lambda: _three(recorded), timeout=30)
    await harness.stop_worker(worker)
    GATES[gate].set()
    await harness.worker(harness.tmp_path / "second")
    result = await handle.result(timeout=30)
    import json
    recorded_values = {r.fields["key"]: json.loads(r.fields["result"]) for r in first}
    assert result["uuid"] == recorded_values["id"] and result["random"] == recorded_values["luck"]
    assert result["now"] == datetime.fromisoformat(recorded_values["when"]).isoformat()


async def _three(probe):
    found = await probe()
    return found if len(found) == 3 else None
