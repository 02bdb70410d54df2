"""Recovery: a lost store rebuilds to the same state; a restart replays only the tail."""

import shutil
import time

from helpers import assert_eventually

from engine import RetryableError, WorkflowContext, WorkflowFailedError, current_step, workflow
from engine.replay import rebuild_partition
from engine.store import StorePartition


async def double(x: int) -> int:
    return 2 * x


async def explode() -> None:
    raise ValueError("boom")


@workflow
async def t_recovery(ctx: WorkflowContext, n: int, fail: bool = False) -> int:
    a = await ctx.step.run("double", double, n)
    if fail:
        await ctx.step.run("explode", explode, max_retries=1, base_delay=0.01)
    return await ctx.step(double, a)


async def run_some(client, count: int) -> None:
    for i in range(count):
        handle = await t_recovery.invoke(client, {"n": i, "fail": i % 4 == 3})
        try:
            await handle.result(timeout=30)
        except WorkflowFailedError:
            assert i % 4 == 3


def snapshot(path) -> dict:
    store = StorePartition(path)
    try:
        return dict(store.items())
    finally:
        store.close()


async def test_a_deleted_store_rebuilds_to_the_same_state(harness):
    worker = await harness.worker()
    client = await harness.client()
    await run_some(client, 12)
    partitions = range(harness.partitions)
    await harness.stop_worker(worker)
    log = await harness.log()
    sizes = []
    for p in partitions:
        original = snapshot(worker.store_path(p))
        sizes.append(len(original))
        rebuilt_path = harness.tmp_path / "rebuilt" / str(p)
        store = StorePartition(worker.store_path(p))
        applied = store.applied_offset()  # a stopped worker may be behind the log's end: compare at its offset
        store.close()
        await rebuild_partition(log, p, rebuilt_path, stop=applied + 1)
        assert snapshot(rebuilt_path) == original, f"partition {p} rebuilt differently"
    assert sum(sizes) > 12 * 2, "the stores hold the executions"
    # and a worker whose stores are gone still serves everything
    shutil.rmtree(worker.data_dir)
    await harness.worker(worker.data_dir)
    assert await t_recovery.run(client, {"n": 5}, timeout=30) == 20


async def test_a_restart_replays_only_the_tail(harness):
    worker = await harness.worker()
    client = await harness.client()
    await run_some(client, 6)
    await harness.stop_worker(worker)
    applied = {p: StorePartition(worker.store_path(p)) for p in range(harness.partitions)}
    offsets = {}
    for p, store in applied.items():
        offsets[p] = store.applied_offset()
        store.close()
    again = await harness.worker(worker.data_dir)
    await assert_eventually(lambda: len(again.processors) == harness.partitions, timeout=30)
    assert {p: proc.replayed_from for p, proc in again.processors.items()} == {p: o + 1 for p, o in offsets.items()}
    assert max(offsets.values()) > 3, "some partition had history to skip"
    assert await t_recovery.run(client, {"n": 1}, timeout=30) == 4


async def test_redelivered_records_are_skipped_by_offset(harness, tmp_path):
    worker = await harness.worker()
    client = await harness.client()
    await run_some(client, 4)
    await harness.stop_worker(worker)
    log = await harness.log()
    ends = [await log.end_offset(p) for p in range(harness.partitions)]
    p = max(range(harness.partitions), key=lambda i: ends[i])
    end = ends[p]
    path = tmp_path / "twice"
    await rebuild_partition(log, p, path, stop=end)
    once = snapshot(path)
    # deliver the whole partition again to the same store: everything is below applied
    from engine.store.folding import fold_batch
    from engine.wire.codec import default_codec

    reader = log.reader()
    reader.assign(p, 0)
    entries = []
    while len(entries) < end:
        entries.extend(await reader.poll(1.0))
    await reader.close()
    store = StorePartition(path)
    last, events = fold_batch(store, default_codec(), entries, store.applied_offset())
    store.close()
    assert (last, events) == (end - 1, [])
    assert snapshot(path) == once


BACKOFF_ATTEMPTS: dict[str, list[float]] = {}


async def fails_once_with_backoff() -> str:
    info = current_step()
    BACKOFF_ATTEMPTS.setdefault(info.execution_id, []).append(time.time())
    if info.attempt == 1:
        raise RetryableError("later", retry_after=2.0)
    return "ok"


@workflow
async def t_backoff(ctx: WorkflowContext) -> str:
    return await ctx.step.run("call", fails_once_with_backoff, max_retries=3)


async def test_a_restart_during_backoff_waits_only_the_remaining_time(harness):
    worker = await harness.worker()
    client = await harness.client()
    eid = f"{harness.namespace}-backoff"
    handle = await t_backoff.invoke(client, execution_id=eid)

    async def attempt_failed():
        try:
            return [r for r in await client.history(eid, include_claims=False) if r.type == "StepAttemptFailed"]
        except Exception:
            return None

    failed = await assert_eventually(attempt_failed, timeout=30)
    retry_at = failed[0].fields["retry_at"] / 1000
    await harness.stop_worker(worker)  # the restart happens inside the 2 s backoff
    await harness.worker(harness.tmp_path / "second")
    assert await handle.result(timeout=30) == "ok"
    first, second = BACKOFF_ATTEMPTS[eid]
    assert second >= retry_at - 0.05, "the retry did not wait for its recorded due time"
    assert second < retry_at + 1.5, "the restarted worker waited a whole new backoff"
