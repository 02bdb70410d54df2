"""A client with a store of its own (``Client(log, store_dir=...)``): it folds the whole
journal into RocksDB, so results, command verdicts and lookups cost no read of a
partition, for runs it started or not, and its memory holds only what is waited on now."""

import pytest
from helpers import assert_eventually, in_status

from engine import ExecutionIdConflictError, Outcome, WorkflowContext, workflow

IDLE = {"waiters": 0, "judging": 0, "verdicts": 0, "catching_up": 0}


def no_scans(client) -> None:
    """Make any read of a partition from offset 0 fail: answers must come from the store."""

    async def scan(*args, **kwargs):
        raise AssertionError("a client with a store read a partition from offset 0")

    client._views.scans.partition = scan


async def bump(x: int) -> int:
    return x + 1


@workflow
async def cs_three_steps(ctx: WorkflowContext, x: int) -> int:
    for name in ("a", "b", "c"):
        x = await ctx.step.run(name, bump, x)
    return x


@workflow
async def cs_park(ctx: WorkflowContext) -> str:
    return (await ctx.step.suspend("park")).data


async def test_results_come_from_the_clients_own_store_and_nothing_stays_in_memory(harness, tmp_path):
    await harness.worker()
    client = await harness.client(store_dir=tmp_path / "client-store")
    no_scans(client)

    handles = [await cs_three_steps.invoke(client, {"x": i}) for i in range(30)]

    assert [await h.result(timeout=60) for h in handles] == [i + 3 for i in range(30)]
    assert client.live.sizes() == IDLE
    assert (await client.get_execution(handles[0].execution_id)).status == "completed"
    assert len(await client.list_executions(status="completed")) == 30


async def test_a_run_started_by_another_client_is_resumed_and_judged_from_the_store(harness, tmp_path):
    await harness.worker()
    starter = await harness.client()
    handle = await cs_park.invoke(starter, {})
    await assert_eventually(lambda: in_status(starter, handle.execution_id, "waiting"), timeout=60)
    stored = await harness.client(store_dir=tmp_path / "client-store")
    no_scans(stored)

    first = await stored.resume(handle.execution_id, "park", "go")
    again = await stored.resume(handle.execution_id, "park", "again")

    assert first.outcome is Outcome.APPLIED and first.execution.execution_id == handle.execution_id
    assert again.outcome in (Outcome.ALREADY, Outcome.ENDED)
    assert await (await stored.handle(handle.execution_id)).result(timeout=60) == "go"
    assert stored.live.sizes() == IDLE


async def test_an_id_taken_by_another_input_is_a_conflict_judged_from_the_store(harness, tmp_path):
    await harness.worker()
    client = await harness.client(store_dir=tmp_path / "client-store")
    first = await cs_three_steps.invoke(client, {"x": 1}, execution_id="order-7")
    same = await cs_three_steps.invoke(client, {"x": 1}, execution_id="order-7")

    with pytest.raises(ExecutionIdConflictError, match="order-7"):
        await cs_three_steps.invoke(client, {"x": 2}, execution_id="order-7")
    assert await same.result(timeout=60) == 4 and same.execution_id == first.execution_id


async def test_a_restarted_client_folds_only_the_tail_of_the_journal(harness, tmp_path):
    await harness.worker()
    store_dir = tmp_path / "client-store"
    client = await harness.client(store_dir=store_dir)
    done = await cs_three_steps.invoke(client, {"x": 5})
    assert await done.result(timeout=60) == 8
    applied_before = dict(client.live._applied)
    await client.close()
    harness.clients.remove(client)

    again = await harness.client(store_dir=store_dir)
    later = await cs_three_steps.invoke(again, {"x": 6})

    assert await later.result(timeout=60) == 9
    assert again.live._applied != applied_before
    assert all(again.live._stores[p].applied_offset() >= offset for p, offset in applied_before.items())
    assert (await again.get_execution(done.execution_id)).result == 8  # folded before the restart


async def test_two_clients_on_one_store_dir_is_a_clear_error(harness, tmp_path):
    from engine import LogloomError

    first = await harness.client(store_dir=tmp_path / "client-store")
    await first.list_executions()
    second = await harness.client(store_dir=tmp_path / "client-store")

    with pytest.raises(LogloomError, match="each client needs a store_dir of its own"):
        await second.list_executions()
