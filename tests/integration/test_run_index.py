"""Listings come from the run index the fold keeps (``fold/run_index.py``), and answer
what folding the whole log answers: from a client's own stores, and from the workers'
stores read beside them."""

import asyncio
import contextlib

from helpers import assert_eventually, in_status
from test_client_store import no_scans

from engine import TerminalError, WorkflowContext, WorkflowFailedError, workflow


async def ix_echo(x: int) -> int:
    return x


async def ix_refuse(x: int) -> int:
    raise TerminalError(f"refused {x}")


@workflow
async def ix_orders(ctx: WorkflowContext, x: int) -> int:
    """x % 3: 0 fails, 1 waits for approval, 2 completes."""
    await ctx.step.run("echo", ix_echo, x)
    if x % 3 == 0:
        await ctx.step.run("refuse", ix_refuse, x)
    if x % 3 == 1:
        await ctx.step.suspend("approval")
    return x


@workflow
async def ix_other(ctx: WorkflowContext, x: int) -> int:
    return await ctx.step.run("echo", ix_echo, x)


def ids(executions) -> list[str]:
    return [e.execution_id for e in executions]


async def pages(client, size: int, **filters) -> list[str]:
    """Walk a listing a page at a time, each page after the last id of the one before."""
    walked, after = [], None
    while True:
        page = await client.list_executions(**filters, after=after, limit=size)
        walked += ids(page)
        if len(page) < size:
            return walked
        after = page[-1].execution_id


async def test_listings_from_the_index_answer_what_the_log_answers(harness, tmp_path):
    await harness.worker()
    starter = await harness.client()
    handles = []
    for x in range(24):  # created one after another: the index orders by creation time
        flow = ix_orders if x % 4 else ix_other
        handles.append(await flow.invoke(starter, {"x": x}, execution_id=f"ix-{x:02d}", user_id=f"u{x % 2}"))
        await asyncio.sleep(0.002)
    waiting = [h.execution_id for h, x in zip(handles, range(24), strict=True) if x % 4 and x % 3 == 1]
    for eid in waiting:
        await assert_eventually(lambda eid=eid: in_status(starter, eid, "waiting"), timeout=60)
    for handle in handles:
        if handle.execution_id not in waiting:
            with contextlib.suppress(WorkflowFailedError):
                await handle.result(timeout=60)

    stored = await harness.client(store_dir=tmp_path / "client-store")
    beside = await harness.client(worker_data_dir=tmp_path / "worker")
    no_scans(stored)
    no_scans(beside)
    everything = await starter.list_executions()  # folded from the log
    middle = everything[8].created_at
    queries = [
        {},
        {"status": "failed"},
        {"status": "waiting"},
        {"status": "completed", "workflow": "ix_orders"},
        {"workflow": "ix_other"},
        {"since": middle},
        {"until": middle, "status": "completed"},
        {"user_id": "u1", "status": "failed"},
        {"status": "cancelled"},
    ]
    for filters in queries:
        expected = ids(await starter.list_executions(**filters))
        assert ids(await stored.list_executions(**filters)) == expected, f"the client's store, {filters}"
        assert ids(await beside.list_executions(**filters)) == expected, f"the workers' stores, {filters}"
        assert await pages(stored, 4, **filters) == expected, f"pages of the client's store, {filters}"
        assert await pages(beside, 5, **filters) == expected, f"pages of the workers' stores, {filters}"
        newest = expected[::-1]
        assert ids(await starter.list_executions(**filters, newest_first=True)) == newest, f"folded, {filters}"
        assert ids(await stored.list_executions(**filters, newest_first=True)) == newest, f"newest first, {filters}"
        assert await pages(stored, 4, **filters, newest_first=True) == newest, f"newest pages, {filters}"
        assert await pages(beside, 5, **filters, newest_first=True) == newest, f"newest pages beside, {filters}"

    assert ids(everything) == [f"ix-{x:02d}" for x in range(24)], "oldest first"
    failed = ids(await stored.list_executions(status="failed"))
    assert failed == [f"ix-{x:02d}" for x in range(24) if x % 4 and x % 3 == 0]
    assert ids(await beside.list_executions(status="waiting")) == waiting


async def test_the_workers_stores_see_records_their_worker_has_not_folded(harness, tmp_path):
    worker = await harness.worker()
    starter = await harness.client()
    first = await ix_other.invoke(starter, {"x": 1}, execution_id="ix-before")
    await first.result(timeout=60)
    await harness.stop_worker(worker)  # what is appended now reaches no store
    await ix_other.invoke(starter, {"x": 2}, execution_id="ix-after")

    beside = await harness.client(worker_data_dir=tmp_path / "worker")
    no_scans(beside)
    listed = {e.execution_id: e.status for e in await beside.list_executions()}
    assert listed == {"ix-before": "completed", "ix-after": "pending"}, "the log's tail is folded over the stores"
