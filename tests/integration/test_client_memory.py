"""A client holds memory for the runs it waits on now, and nothing else (issue #17).

These tests read the sizes of the client's live view (``client.live.sizes()``), not RSS.
"""

import asyncio

import pytest
from helpers import assert_eventually, in_status

from engine import Client, WorkflowContext, workflow

EMPTY = {
    "watched_keys": 0,
    "idle_keys": 0,
    "state_entries": 0,
    "waiters": 0,
    "verdicts": 0,
    "finished_results": 0,
    "catching_up": 0,
}


async def bump(x: int) -> int:
    return x + 1


@workflow
async def m_three_steps(ctx: WorkflowContext, x: int) -> int:
    for name in ("a", "b", "c"):
        x = await ctx.step.run(name, bump, x)
    return x


@workflow
async def m_park(ctx: WorkflowContext) -> str:
    return (await ctx.step.suspend("park")).data


async def test_nothing_is_left_once_the_waited_runs_have_finished(harness):
    await harness.worker()
    client = await harness.client()

    handles = [await m_three_steps.invoke(client, {"x": i}) for i in range(40)]
    assert [await h.result(timeout=60) for h in handles] == [i + 3 for i in range(40)]

    assert client.live.sizes() == EMPTY


async def test_runs_nobody_waits_on_leave_only_their_results_until_their_handles_ask(harness):
    await harness.worker()
    log = await harness.log()
    client = Client(log, max_finished_results=5)
    try:
        handles = [await m_three_steps.invoke(client, {"x": i}) for i in range(20)]
        assert client.live.sizes()["watched_keys"] > 0  # followed from before their first record
        for h in handles:
            await assert_eventually(lambda h=h: in_status(client, h.execution_id, "completed"), timeout=60)

        def only_results_are_left():
            return client.live.sizes() == {**EMPTY, "finished_results": 5}

        await assert_eventually(only_results_are_left, timeout=10, message="the view forgot the rest")
        assert [await h.result(timeout=60) for h in handles] == [i + 3 for i in range(20)]  # 15 read again
        assert client.live.sizes() == EMPTY
        assert await handles[0].result() == 3  # a handle keeps its own answer
    finally:
        await client.close()


async def test_commands_and_timed_out_waits_leave_nothing(harness):
    await harness.worker()
    client = await harness.client()
    handle = await m_park.invoke(client)
    await assert_eventually(lambda: in_status(client, handle.execution_id, "waiting"), timeout=60)

    with pytest.raises(TimeoutError):
        await handle.result(timeout=0.2)
    assert client.live.sizes()["waiters"] == 0
    assert (await client.resume(handle.execution_id, "park", "go")).applied
    assert await handle.result(timeout=60) == "go"

    assert client.live.sizes() == EMPTY


async def test_idle_runs_that_go_on_are_kept_up_to_a_bound_and_read_again_when_asked(harness):
    await harness.worker()
    log = await harness.log()
    client = Client(log, max_idle_keys=5)
    try:
        handles = [await m_park.invoke(client) for _ in range(20)]
        for h in handles:
            await assert_eventually(lambda h=h: in_status(client, h.execution_id, "waiting"), timeout=60)
        sizes = client.live.sizes()
        assert sizes["watched_keys"] <= 5 and sizes["idle_keys"] <= 5

        first = handles[0]  # long forgotten: its result is read again from the log
        await client.resume(first.execution_id, "park", "first")
        assert await first.result(timeout=60) == "first"
        for i, h in enumerate(handles[1:]):
            await client.resume(h.execution_id, "park", i)
        assert await asyncio.gather(*(h.result(timeout=60) for h in handles[1:])) == list(range(19))
        assert client.live.sizes() == EMPTY
    finally:
        await client.close()


async def test_forgotten_keys_asked_for_together_share_one_read_of_their_partition(harness):
    await harness.worker()
    log = await harness.log()
    client = Client(log, max_idle_keys=2)
    reads = []
    scan_keys = client.live.scans.keys

    async def counted(partition, keys, stop):
        reads.append((partition, len(keys)))
        return await scan_keys(partition, keys, stop)

    client.live.scans.keys = counted
    try:
        handles = [await m_park.invoke(client) for _ in range(30)]
        for h in handles:
            await assert_eventually(lambda h=h: in_status(client, h.execution_id, "waiting"), timeout=60)

        verdicts = await asyncio.gather(*(client.resume(h.execution_id, "park", i) for i, h in enumerate(handles)))

        assert all(v.applied for v in verdicts)
        assert await asyncio.gather(*(h.result(timeout=60) for h in handles)) == list(range(30))
        forgotten = sum(n for _, n in reads)
        assert forgotten >= 28, f"only {forgotten} keys were read again: {reads}"
        assert len(reads) <= 2 * log.num_partitions, f"one read per partition per round, not per key: {reads}"
        assert client.live.sizes() == EMPTY
    finally:
        await client.close()
