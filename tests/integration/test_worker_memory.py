"""A worker's memory is bounded by settings, and its status says what it holds (issue #17).

These tests read ``Worker.status()`` and the status file, not RSS."""

import asyncio
import json

from helpers import assert_eventually, in_status

from engine import WorkflowContext, workflow


async def bump(x: int) -> int:
    return x + 1


@workflow
async def wm_park_then_step(ctx: WorkflowContext, x: int) -> int:
    x = await ctx.step.run("before", bump, x)
    resumed = (await ctx.step.suspend("park")).data
    return await ctx.step.run("after", bump, x + resumed)


async def test_past_max_runs_in_memory_runs_wait_their_turn_and_all_complete(harness):
    worker = await harness.worker(max_runs_in_memory=3)
    client = await harness.client()
    most_in_memory = 0

    async def watch_memory():
        nonlocal most_in_memory
        while True:
            most_in_memory = max(most_in_memory, worker.status()["runs"]["in_memory"])
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch_memory())
    try:
        handles = [await wm_park_then_step.invoke(client, {"x": i}) for i in range(15)]
        for h in handles:
            await assert_eventually(lambda h=h: in_status(client, h.execution_id, "waiting"), timeout=60)
        assert worker.status()["runs"]["deferred"] == 0
        for h in handles:
            await client.resume(h.execution_id, "park", 100)
        results = await asyncio.gather(*(h.result(timeout=60) for h in handles))
    finally:
        watcher.cancel()

    assert results == [i + 102 for i in range(15)]
    assert 0 < most_in_memory <= 3
    empty = {"in_memory": 0, "idle": 0, "idle_limit": 1000, "limit": 3, "deferred": 0}
    # a run's task ends just after its completion is recorded, so a moment after the result
    await assert_eventually(lambda: worker.status()["runs"] == empty, timeout=10, message="no run left in memory")


async def test_the_status_file_reports_partitions_runs_and_rocksdb_memory(harness, tmp_path):
    status_file = tmp_path / "status" / "worker.json"
    worker = await harness.worker(status_file=status_file, store_memory=None)
    client = await harness.client()
    handle = await wm_park_then_step.invoke(client, {"x": 1})
    await assert_eventually(lambda: in_status(client, handle.execution_id, "waiting"), timeout=60)

    def written_with_the_waiting_run() -> bool:
        if not status_file.exists():
            return False
        status = json.loads(status_file.read_text())
        return status["runs"]["idle"] == 1

    await assert_eventually(written_with_the_waiting_run, timeout=15, message="the status file shows the idle run")
    status = json.loads(status_file.read_text())
    assert status["worker"] == worker.worker_id
    assert sorted(status["partitions"]) == sorted(str(p) for p in range(harness.partitions))
    assert all(p["phase"] == "active" for p in status["partitions"].values())
    store = status["store"]
    assert store["cache_capacity_bytes"] == 64 * 1024 * 1024 and store["memtable_budget_bytes"] == 32 * 1024 * 1024
    assert 0 < store["memtable_usage_bytes"] <= store["cache_usage_bytes"]
    assert status["appends_in_flight"] == 0  # the waiting run's records are all acknowledged
