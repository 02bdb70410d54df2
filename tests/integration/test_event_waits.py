"""wait_for_event on both logs: delivery across partitions, early events, keys, timeouts."""

import asyncio

from helpers import assert_eventually, in_status

from engine import WaitTimeoutError, WorkflowContext
from engine.names import event_routing_key
from engine.workflow import Registry


def app(topic: str) -> Registry:
    reg = Registry()

    @reg.workflow
    async def approval_workflow(ctx: WorkflowContext, request: str, timeout: float | None = None) -> dict:
        await ctx.step.run("process", lambda: request.upper())
        try:
            approval = await ctx.step.wait_for_event("wait_approval", topic=topic, timeout=timeout)
        except WaitTimeoutError:
            return {"status": "timed out"}
        if approval.data["approved"]:
            return {"status": "executed", "by": approval.data["by"], "offset": approval.offset}
        return {"status": "rejected"}

    @reg.workflow
    async def pickup(ctx: WorkflowContext, order_id: str) -> list:
        first = await ctx.step.wait_for_event("first", topic=f"{topic}.pickup/{order_id}")
        second = await ctx.step.wait_for_event("second", topic=f"{topic}.pickup/{order_id}")
        return [first.data["n"], second.data["n"], first.key]

    return reg


async def test_an_event_wakes_a_waiting_workflow(harness):
    topic = f"{harness.namespace}.approval"
    reg = app(topic)
    worker = await harness.worker(registry=reg, evict_after_idle_s=0.5)
    client = await harness.client()
    handle = await reg.get("approval_workflow").invoke(client, {"request": "deploy"})
    await assert_eventually(lambda: in_status(client, handle.execution_id, "waiting"), timeout=30)
    await assert_eventually(lambda: worker.invoker.running() == 0, timeout=10, message="evicted while waiting")
    _, offset = await client.publish_event(topic, {"approved": True, "by": "ana"})
    assert await handle.result(timeout=30) == {"status": "executed", "by": "ana", "offset": offset}
    types = [r.type for r in await client.history(handle.execution_id, include_claims=False)]
    assert types.count("EventAwaited") == 1 and types.count("EventDelivered") == 1
    # the event partition drops its outbox entry once the log acknowledged the delivery
    event_partition = worker.processors[client.log.partition_for(event_routing_key(topic, None))]
    await assert_eventually(
        lambda: not list(event_partition.store.scan(b"ed/")), timeout=10, message="the delivery is confirmed"
    )


async def test_keyed_events_reach_only_their_key_in_order_and_an_early_event_is_kept(harness):
    topic = f"{harness.namespace}.wh"
    reg = app(topic)
    await harness.worker(registry=reg)
    client = await harness.client()
    a = await reg.get("pickup").invoke(client, {"order_id": "o-a"})
    b = await reg.get("pickup").invoke(client, {"order_id": "o-b"})
    # published right away: for o-a both events may arrive before its waits are registered
    await client.publish_event(f"{topic}.pickup/o-a", {"n": 1})
    await client.publish_event(f"{topic}.pickup/o-a", {"n": 2})
    assert await a.result(timeout=30) == [1, 2, "o-a"]
    await assert_eventually(lambda: in_status(client, b.execution_id, "waiting"), timeout=30)
    await client.publish_event(f"{topic}.pickup/o-b", {"n": 3})
    await client.publish_event(f"{topic}.pickup/o-b", {"n": 4})
    assert await b.result(timeout=30) == [3, 4, "o-b"]


async def test_an_event_published_before_the_wait_is_not_lost(harness):
    topic = f"{harness.namespace}.race"
    reg = Registry()
    gate = asyncio.Event()

    @reg.workflow
    async def late_waiter(ctx: WorkflowContext) -> int:
        await ctx.step.run("slow", gate.wait)
        return (await ctx.step.wait_for_event("wait", topic=topic)).data["n"]

    await harness.worker(registry=reg)
    client = await harness.client()
    # the topic is not awaited yet: the router learns of it only when the wait registers
    handle = await late_waiter.invoke(client)
    await asyncio.sleep(0.2)
    await client.publish_event(topic, {"n": 7})
    await asyncio.sleep(0.3)
    gate.set()
    assert await handle.result(timeout=30) == 7


async def test_an_event_wait_times_out_catchably(harness):
    topic = f"{harness.namespace}.never"
    reg = app(topic)
    await harness.worker(registry=reg)
    client = await harness.client()
    assert await reg.get("approval_workflow").run(client, {"request": "x", "timeout": 0.3}, timeout=30) == {
        "status": "timed out"
    }
