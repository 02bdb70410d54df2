"""Queues with concurrency keys on both logs (issue #18): the limit holds at every instant,
FIFO per key, keys are isolated, parked runs free their slots, cancelling frees a slot.

Each test's queue has a name of its own, and its workflows count the runs inside their
step at once in this process (the harness's worker runs here, on both logs)."""

import asyncio
import uuid

import pytest
from helpers import assert_eventually

from engine import InputValidationError, RateLimit, WorkflowContext, event, names, queue, workflow
from engine.workflow.registry import Registry

INSIDE: dict[str, int] = {}
MOST: dict[str, int] = {}
ORDER: dict[str, list] = {}


async def occupy(name: str, tag: str, seconds: float) -> str:
    INSIDE[name] = INSIDE.get(name, 0) + 1
    MOST[name] = max(MOST.get(name, 0), INSIDE[name])
    ORDER.setdefault(name, []).append(tag)
    try:
        await asyncio.sleep(seconds)
    finally:
        INSIDE[name] -= 1
    return tag


@workflow
async def q_work(ctx: WorkflowContext, name: str, tag: str, seconds: float) -> str:
    return await ctx.step.run("occupy", occupy, name, tag, seconds)


@workflow
async def q_park(ctx: WorkflowContext, name: str, tag: str) -> str:
    await ctx.step.run("before", occupy, name, tag, 0.0)
    approved = (await ctx.step.suspend("approval")).data
    return await ctx.step.run("after", occupy, name, f"{tag}:{approved}", 0.0)


TRIGGER_TOPIC = f"qtrig-{uuid.uuid4().hex[:8]}"
TRIGGERED = queue(f"qt{uuid.uuid4().hex[:8]}", concurrency_limit=2)
# A registry of its own: a worker with the default one would subscribe to the topic and
# start runs for these events in every later test's namespace (topics are not namespaced).
triggered_registry = Registry()


@triggered_registry.workflow(triggers=[event(TRIGGER_TOPIC)], queue=TRIGGERED)
async def q_on_event(ctx: WorkflowContext, n: int) -> str:
    return await ctx.step.run("occupy", occupy, TRIGGERED.name, f"e{n}", 0.3)


def fresh(limit: int):
    return queue(f"q{uuid.uuid4().hex[:8]}", concurrency_limit=limit)


async def test_the_limit_holds_at_every_instant_and_runs_start_in_order(harness):
    await harness.worker()
    client = await harness.client()
    q = fresh(3)
    handles = [
        await q_work.invoke(client, {"name": q.name, "tag": f"r{i}", "seconds": 0.2}, queue=q, concurrency_key="k")
        for i in range(24)
    ]
    results = await asyncio.gather(*(h.result(timeout=60) for h in handles))
    assert results == [f"r{i}" for i in range(24)]
    assert MOST[q.name] == 3, "3 at once, never more"
    assert ORDER[q.name] == [f"r{i}" for i in range(24)], "FIFO within a key"


async def test_a_saturated_key_does_not_delay_another(harness):
    await harness.worker()
    client = await harness.client()
    q = fresh(1)
    busy = [
        await q_work.invoke(client, {"name": q.name, "tag": f"a{i}", "seconds": 1.0}, queue=q, concurrency_key="a")
        for i in range(4)
    ]
    other = await q_work.invoke(client, {"name": q.name, "tag": "b0", "seconds": 0.0}, queue=q, concurrency_key="b")
    assert await other.result(timeout=30) == "b0"
    queued = await client.get_execution(busy[3].execution_id)
    assert queued.status == "queued" and queued.queue["position"] in (2, 3), queued.queue
    await asyncio.gather(*(h.result(timeout=60) for h in busy))
    ended = await client.get_execution(busy[3].execution_id)
    assert ended.queue["slot"] is None and ended.queue["position"] is None, "an ended run holds nothing"


async def test_parked_runs_free_their_slots_and_take_one_again_when_woken(harness):
    await harness.worker()
    client = await harness.client()
    q = fresh(2)
    parked = [await q_park.invoke(client, {"name": q.name, "tag": f"p{i}"}, queue=q) for i in range(2)]

    async def both_waiting():
        return all([(await client.get_execution(h.execution_id)).status == "waiting" for h in parked])

    await assert_eventually(both_waiting, timeout=30, message="two runs parked on their approval")
    quick = [await q_work.invoke(client, {"name": q.name, "tag": f"w{i}", "seconds": 0.3}, queue=q) for i in range(4)]
    assert await asyncio.gather(*(h.result(timeout=30) for h in quick)) == [f"w{i}" for i in range(4)]
    for h in parked:
        await client.resume(h.execution_id, "approval", "yes")
    assert await asyncio.gather(*(h.result(timeout=30) for h in parked)) == ["p0:yes", "p1:yes"]
    assert MOST[q.name] <= 2


async def test_a_woken_run_waits_for_a_slot_if_none_is_free(harness):
    await harness.worker()
    client = await harness.client()
    q = fresh(1)
    parked = await q_park.invoke(client, {"name": q.name, "tag": "p"}, queue=q)
    await assert_eventually(lambda: _status(client, parked.execution_id, "waiting"), timeout=30)
    long = await q_work.invoke(client, {"name": q.name, "tag": "long", "seconds": 1.5}, queue=q)
    await assert_eventually(lambda: _status(client, long.execution_id, "running"), timeout=30)
    await client.resume(parked.execution_id, "approval", "late")
    requeued = await assert_eventually(lambda: _status(client, parked.execution_id, "queued"), timeout=30)
    assert requeued.queue["slot"] == "requeued" and requeued.queue["position"] == 1
    assert await long.result(timeout=30) == "long"
    assert await parked.result(timeout=30) == "p:late"
    assert MOST[q.name] == 1 and ORDER[q.name] == ["p", "long", "p:late"]


async def test_cancelling_a_running_or_queued_run_frees_its_place(harness):
    await harness.worker()
    client = await harness.client()
    q = fresh(1)
    first = await q_work.invoke(client, {"name": q.name, "tag": "first", "seconds": 30}, queue=q)
    second = await q_work.invoke(client, {"name": q.name, "tag": "second", "seconds": 30}, queue=q)
    third = await q_work.invoke(client, {"name": q.name, "tag": "third", "seconds": 0.0}, queue=q)
    await assert_eventually(lambda: _status(client, first.execution_id, "running"), timeout=30)
    await client.cancel(second.execution_id)  # queued: it leaves the queue
    await client.terminate(first.execution_id)  # running: its slot goes to the next, at once
    assert await third.result(timeout=30) == "third"
    assert (await client.get_execution(second.execution_id)).status == "cancelled"
    assert ORDER[q.name] == ["first", "third"]


async def test_bad_queue_use_is_refused_and_starts_nothing(harness):
    await harness.worker()
    client = await harness.client()
    with pytest.raises(InputValidationError, match="concurrency_limit must be an int >= 1"):
        queue("zero", concurrency_limit=0)
    with pytest.raises(InputValidationError, match="without '/'"):
        queue("a/b")
    with pytest.raises(InputValidationError, match="need a queue"):
        await q_work.invoke(client, {"name": "x", "tag": "x", "seconds": 0}, concurrency_key="k")
    with pytest.raises(InputValidationError, match="a session and on a queue"):
        await q_work.invoke(client, {"name": "x", "tag": "x", "seconds": 0}, queue=fresh(1), session_id="s")
    assert await client.list_executions() == []


async def _status(client, execution_id: str, status: str):
    execution = await client.get_execution(execution_id)
    return execution if execution.status == status else None


async def test_an_event_triggered_workflow_on_a_queue_keeps_its_limit(harness):
    await harness.worker(registry=triggered_registry)
    client = await harness.client()
    for n in range(6):
        await client.publish_event(TRIGGER_TOPIC, {"n": n})

    async def all_done():
        runs = [e for e in await client.list_executions() if e.workflow == "q_on_event"]
        return runs if len(runs) == 6 and all(r.status == "completed" for r in runs) else None

    runs = await assert_eventually(all_done, timeout=60, message="6 triggered runs completed")
    assert sorted(r.result for r in runs) == [f"e{n}" for n in range(6)]
    assert all(r.queue["name"] == TRIGGERED.name for r in runs)
    assert MOST[TRIGGERED.name] == 2


async def test_a_queue_limit_set_at_run_time_takes_effect_at_once(harness):
    await harness.worker()
    client = await harness.client()
    q = fresh(1)
    handles = [
        await q_work.invoke(client, {"name": q.name, "tag": f"s{i}", "seconds": 1.0}, queue=q, concurrency_key="t")
        for i in range(3)
    ]

    async def one_running_two_queued():
        keys = await client.list_queues(q.name)
        return keys if keys and len(keys[0].running) == 1 and len(keys[0].waiting) == 2 else None

    [key] = await assert_eventually(one_running_two_queued, timeout=30)
    assert (key.queue, key.key, key.limit) == (q.name, "t", 1)
    await client.set_queue_limit(q.name, 3)
    await asyncio.gather(*(h.result(timeout=30) for h in handles))
    assert MOST[q.name] == 3, "the two queued runs started as soon as the limit grew"
    [key] = await client.list_queues(q.name)
    assert key.limit == 3 and key.running == [] and key.waiting == []
    with pytest.raises(InputValidationError, match="the limit must be an int >= 1"):
        await client.set_queue_limit(q.name, 0)


@workflow
async def q_parent(ctx: WorkflowContext, name: str) -> str:
    child = await ctx.step.invoke_and_wait("child", q_work, {"name": name, "tag": "child", "seconds": 0.0})
    return f"parent of {child}"


async def test_a_run_on_a_queue_gets_its_childs_result(harness):
    await harness.worker()
    client = await harness.client()
    q = fresh(1)
    log = await harness.log()
    queue_partition = log.partition_for(names.queue_routing_key(q.name, None))
    parent_id = next(i for i in (f"parent-{n}" for n in range(100)) if log.partition_for(i) != queue_partition)
    handle = await q_parent.invoke(client, {"name": q.name}, queue=q, execution_id=parent_id)
    assert await handle.result(timeout=30) == "parent of child", "the child reported to the queue's partition"
    history = [r.type for r in await client.history(parent_id, include_claims=False)]
    assert history[0] == "InvocationRequested" and history[-1] == "ExecutionCompleted"
    followed = [r.type async for r in client.follow(parent_id)]
    assert followed[-1] == "ExecutionCompleted"


@workflow
async def q_fan_out(ctx: WorkflowContext, name: str, limit: int) -> list:
    children = queue(name, concurrency_limit=limit)
    handles = [
        await ctx.step.invoke(f"c{i}", q_work, {"name": name, "tag": f"c{i}", "seconds": 0.3}, queue=children)
        for i in range(6)
    ]
    return [h.execution_id for h in handles]


async def test_children_invoked_on_a_queue_keep_its_limit(harness):
    await harness.worker()
    client = await harness.client()
    name = f"kids{uuid.uuid4().hex[:6]}"
    ids = await (await q_fan_out.invoke(client, {"name": name, "limit": 2})).result(timeout=30)

    async def all_done():
        runs = [await client.get_execution(i) for i in ids]
        return runs if all(r.status == "completed" for r in runs) else None

    runs = await assert_eventually(all_done, timeout=60)
    assert [r.result for r in runs] == [f"c{i}" for i in range(6)]
    assert {r.queue["name"] for r in runs} == {name} and MOST[name] == 2


async def test_a_rate_limit_holds_over_a_10_s_window_and_delays_without_dropping(harness):
    await harness.worker()
    client = await harness.client()
    q = queue(f"rate{uuid.uuid4().hex[:6]}", concurrency_limit=50, rate_limit=RateLimit(limit=3, period_s=1.0))
    handles = [
        await q_work.invoke(client, {"name": q.name, "tag": f"r{i}", "seconds": 0.0}, queue=q) for i in range(33)
    ]
    assert await asyncio.gather(*(h.result(timeout=60) for h in handles)) == [f"r{i}" for i in range(33)]
    starts = sorted([(await client.get_execution(h.execution_id)).started_at for h in handles])
    span = (starts[-1] - starts[0]).total_seconds()
    assert span >= 9.5, f"3 at once, then 3 a second: 33 runs take 10 s, not {span:.1f} s"
    for i, start in enumerate(starts):
        in_a_second = [s for s in starts[i:] if (s - start).total_seconds() < 1.0]
        assert len(in_a_second) <= 6, "within any second, the bucket's 3 and 3 more refilled at most"


async def test_a_live_client_sees_the_end_of_a_run_whose_key_a_new_run_starts_watching_during_a_read(harness):
    """A key many runs share (a queue key): run B's key is forgotten (nobody waits on it);
    B's result() reads the key again, and while that read is under way run C is invoked on
    the same key. The read must give the key its history, or B's end finds no row."""
    await harness.worker()
    client = await harness.client(max_idle_keys=1)  # one key nobody waits on is kept, no more
    q, other = fresh(10), fresh(10)
    b = await q_work.invoke(client, {"name": q.name, "tag": "b", "seconds": 0.5}, queue=q)
    d = await q_work.invoke(client, {"name": other.name, "tag": "d", "seconds": 0.0}, queue=other)  # B's key goes
    b_result = asyncio.create_task(b.result(timeout=15))
    await asyncio.sleep(0)  # b's result() starts reading its key again
    c = await q_work.invoke(client, {"name": q.name, "tag": "c", "seconds": 0.0}, queue=q)
    assert await b_result == "b"
    assert await c.result(timeout=15) == "c" and await d.result(timeout=15) == "d"
