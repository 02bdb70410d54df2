"""Bad input never stops a partition: poison records are skipped with their reason."""

import pytest

from engine import WorkflowContext, WorkflowFailedError, workflow
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


@workflow
async def t_unbindable(ctx: WorkflowContext, x: "NoSuchType") -> int:  # noqa: F821
    return 1


async def test_a_workflow_whose_parameters_cannot_bind_fails_with_a_clear_error_and_does_not_hang(harness):
    await harness.worker()
    client = await harness.client()
    handle = await client.invoke("t_unbindable", {"x": 1})  # by name: no client-side check
    with pytest.raises(WorkflowFailedError) as failed:
        await handle.result(timeout=30)
    assert failed.value.error["code"] == "INVALID_INPUT" and "NoSuchType" in failed.value.error["message"]
    assert await t_after_poison.run(client, timeout=30) == 1  # the partition keeps processing
