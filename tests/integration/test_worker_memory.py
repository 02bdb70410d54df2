"""A worker's memory is bounded by settings, and its status says what it holds (issue #17).

These tests read ``Worker.status()`` and the status file, not RSS."""

import asyncio
import contextlib
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
    empty = {
        "in_memory": 0,
        "idle": 0,
        "idle_limit": 1000,
        "limit": 3,
        "deferred": 0,
        "deferred_on_disk": 0,
        "deferred_memory_limit": 10_000,
    }
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
    assert "table_readers_bytes" in store and status["python"]["allocated_blocks"] > 10_000
    heap = status["c_heap"]  # glibc's account: the stores' and Python's heap in use, at least
    assert heap["in_use_bytes"] > store["memtable_usage_bytes"] and heap["free_held_bytes"] >= 0
    assert status["appends_in_flight"] == 0  # the waiting run's records are all acknowledged


async def test_past_max_deferred_in_memory_runs_wait_their_turn_on_disk_and_all_complete(harness):
    worker = await harness.worker(max_runs_in_memory=2, max_deferred_in_memory=2)
    client = await harness.client()
    most_on_disk = 0

    async def watch_disk():
        nonlocal most_on_disk
        while True:
            runs = worker.status()["runs"]
            most_on_disk = max(most_on_disk, runs["deferred_on_disk"])
            assert runs["deferred"] - runs["deferred_on_disk"] <= 2  # the bound on ids in memory
            await asyncio.sleep(0.002)

    watcher = asyncio.create_task(watch_disk())
    try:
        handles = await asyncio.gather(*(wm_park_then_step.invoke(client, {"x": i}) for i in range(20)))
        for h in handles:
            await assert_eventually(lambda h=h: in_status(client, h.execution_id, "waiting"), timeout=60)
        for h in handles:
            await client.resume(h.execution_id, "park", 100)
        results = await asyncio.gather(*(h.result(timeout=60) for h in handles))
    finally:
        watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher  # raises what the watcher asserted, if it failed

    assert results == [i + 102 for i in range(20)]
    assert most_on_disk > 0, "20 runs at once, 2 in memory and 2 ids in memory: the rest waited on disk"
    await assert_eventually(lambda: worker.status()["runs"]["deferred"] == 0, timeout=10)
    assert worker.status()["runs"]["deferred_on_disk"] == 0


async def test_a_new_owner_with_little_room_starts_every_active_run_in_turn(harness):
    worker = await harness.worker()
    client = await harness.client()
    handles = [await wm_park_then_step.invoke(client, {"x": i}) for i in range(12)]
    for h in handles:
        await assert_eventually(lambda h=h: in_status(client, h.execution_id, "waiting"), timeout=60)
    await harness.stop_worker(worker)

    # From an empty store: it folds the partitions, then resumes 12 active runs, 1 at a time.
    second = await harness.worker(harness.tmp_path / "second", max_runs_in_memory=1, max_deferred_in_memory=1)
    await assert_eventually(lambda: second.status()["runs"]["deferred"] == 0, timeout=60)
    for h in handles:
        await client.resume(h.execution_id, "park", 100)
    results = await asyncio.gather(*(h.result(timeout=60) for h in handles))
    assert results == [i + 102 for i in range(12)]
