"""Parallel steps and deterministic values, on both logs; both replay identically."""

import asyncio
from datetime import datetime

from helpers import assert_eventually

from engine import WorkflowContext, function, workflow

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
    return {
        "parallel": [sales, inventory],
        "gather": data,
        "ab": [a, b],
        "uuid": ident,
        "now": when.isoformat(),
        "random": luck,
        "now_is_aware": when.tzinfo is not None,
    }


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


DOC_RUNS: dict[str, int] = {}


@function(retries=0)
async def process_document(ctx, doc_id: int) -> str:
    DOC_RUNS[f"{ctx.execution_id}/{doc_id}"] = DOC_RUNS.get(f"{ctx.execution_id}/{doc_id}", 0) + 1
    if doc_id % 7 == 3:
        raise ValueError(f"doc {doc_id} is corrupt")
    await asyncio.sleep(0.001 * (doc_id % 5))  # finish out of order
    return f"doc-{doc_id}"


@workflow
async def t_batch(ctx: WorkflowContext, n: int, gate: str | None = None) -> dict:
    batch = await ctx.batch(process_document, [{"doc_id": d} for d in range(n)], max_concurrency=20)
    if gate:
        await ctx.step.run("gate", GATES[gate].wait)
    try:
        await ctx.map(process_document, [{"doc_id": d} for d in range(5)])
        mapped = "no failure"
    except Exception as exc:
        mapped = f"{type(exc).__name__}: {exc.step}"
    ok = await ctx.map(process_document, [{"doc_id": d} for d in (0, 1, 2)], name="ok")
    return {
        "done": batch.stats.completed_items,
        "failed": batch.stats.failed_items,
        "results": batch.results,
        "map": mapped,
        "ok": ok,
    }


async def test_batch_and_map(harness):
    await harness.worker()
    client = await harness.client()
    handle = await t_batch.invoke(client, {"n": 30})
    result = await handle.result(timeout=60)
    failing = [d for d in range(30) if d % 7 == 3]
    assert result["failed"] == len(failing) and result["done"] == 30 - len(failing)
    assert result["results"] == [None if d in failing else f"doc-{d}" for d in range(30)]
    assert result["map"] == "StepExecutionError: batch:process_document:2[3]"
    assert result["ok"] == ["doc-0", "doc-1", "doc-2"]


async def test_a_restarted_batch_runs_no_finished_item_again(harness):
    gate = f"{harness.namespace}-batch"
    GATES[gate] = asyncio.Event()
    worker = await harness.worker()
    client = await harness.client()
    handle = await t_batch.invoke(client, {"n": 100, "gate": gate})

    async def batch_done():
        history = await client.history(handle.execution_id, include_claims=False)
        return sum(1 for r in history if r.type in ("StepCompleted", "StepFailed")) >= 100

    await assert_eventually(batch_done, timeout=60)
    await harness.stop_worker(worker)
    GATES[gate].set()
    await harness.worker(harness.tmp_path / "second")
    result = await handle.result(timeout=60)
    assert result["done"] + result["failed"] == 100
    eid = handle.execution_id
    assert all(DOC_RUNS[f"{eid}/{d}"] == 1 for d in range(5, 100)), "no batch item ran twice"
