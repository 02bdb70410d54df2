"""Bad input never stops a partition: poison records are skipped with their reason."""

from engine import WorkflowContext, workflow
from engine.store import StorePartition


async def one() -> int:
    return 1


@workflow
async def t_after_poison(ctx: WorkflowContext) -> int:
    return await ctx.step.run("one", one)


async def test_a_poison_record_is_skipped_and_the_partition_keeps_processing(harness):
    worker = await harness.worker()
    client = await harness.client()
    log = await harness.log()
    eid = f"{harness.namespace}-after-poison"
    partition = log.partition_for(eid)
    poison_offset = await log.append(partition, b"garbage", b"\xc3\x01 this is not a journal record")
    handle = await t_after_poison.invoke(client, execution_id=eid)
    assert await handle.result(timeout=30) == 1
    await harness.stop_worker(worker)
    store = StorePartition(worker.store_path(partition))
    try:
        kept = store.get(b"d/%020d" % poison_offset)
    finally:
        store.close()
    assert kept is not None and "unknown schema fingerprint" in kept["reason"] and kept["key"] == "garbage"
