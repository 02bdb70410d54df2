"""W2 event wake-up: 200 workflows each wait for an event on a topic, one key each.

One repetition, on a fresh namespace and topic (``bench_w2`` in ``benchmarks/apps.py``):

1. warm-up: 5 W1 workflows, and one ``bench_w2`` woken by one event, so the router
   already reads the topic;
2. invoke 200 ``bench_w2`` (key ``k<i>``) and wait until all 200 are ``waiting`` and
   their 200 ``WaitRegistered`` records are on the journal (the event partitions know
   every wait), then ``SETTLE_S`` more, so the burst does not overlap the set-up's
   traffic, and the waiting runs have left memory as long waits do;
3. publish the 200 events at once (``client.publish_event(topic/k<i>)``), noting when
   each publish started;
4. latency of one workflow = when the client received its result − when its event's
   publish started (publish → router → ``EventReceived`` → ``EventDelivered`` → wake →
   replay → ``ExecutionCompleted`` → client).
"""

from __future__ import annotations

import asyncio
import time

from engine import Client

from ..apps import bench_w1, bench_w2
from ..envs import session
from ..journal import TypeCounter
from ..procstat import CpuMeter
from ..stats import percentile
from . import Metric, Workload, register

RESULT_TIMEOUT = 120.0
SETTLE_S = 1.0


async def _all_waiting(client: Client, handles) -> None:
    deadline = time.monotonic() + RESULT_TIMEOUT
    while time.monotonic() < deadline:
        statuses = [(await client.get_execution(h.execution_id)).status for h in handles]
        if all(s == "waiting" for s in statuses):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not every W2 workflow reached its wait")


async def _all_registered(counter: TypeCounter, n: int) -> None:
    deadline = time.monotonic() + RESULT_TIMEOUT
    while (await counter.drain())["WaitRegistered"] < n:
        if time.monotonic() > deadline:
            raise AssertionError(f"only {counter.counts['WaitRegistered']} of {n} W2 waits were registered")
        await asyncio.sleep(0.05)


async def run(env, params: dict) -> dict[str, float]:
    async with session(env, "w2") as s:
        client = s.client
        topic = f"{s.namespace}.events"

        async def warm_up() -> None:
            await asyncio.gather(*(bench_w1.run(client, {"x": i}, timeout=120) for i in range(5)))
            warm = await bench_w2.invoke(client, {"topic": topic, "key": "warm"})
            await _all_waiting(client, [warm])
            await client.publish_event(f"{topic}/warm", {"warm": True})
            await warm.result(timeout=RESULT_TIMEOUT)

        await s.guard(warm_up())
        n = params["workflows"]
        counter = TypeCounter(s.log)
        try:
            await counter.drain()
            registered_before = counter.counts["WaitRegistered"]  # the warm-up's
            handles = await asyncio.gather(
                *(bench_w2.invoke(client, {"topic": topic, "key": f"k{i}"}) for i in range(n))
            )
            await _all_waiting(client, handles)
            await s.guard(_all_registered(counter, registered_before + n))
        finally:
            await counter.close()
        await asyncio.sleep(SETTLE_S)
        meter = CpuMeter(s.pids)
        published: list[float] = [0.0] * n

        async def publish(i: int) -> None:
            published[i] = time.perf_counter()
            await client.publish_event(f"{topic}/k{i}", {"i": i})

        async def finished(i: int) -> float:
            await handles[i].result(timeout=RESULT_TIMEOUT)
            return time.perf_counter()

        done_task = asyncio.gather(*(finished(i) for i in range(n)))
        await asyncio.gather(*(publish(i) for i in range(n)))
        done = await s.guard(done_task)
        cpu = meter.stop()
    latency = [(d - p) * 1000 for d, p in zip(done, published)]
    return {
        "p50_ms": percentile(latency, 50),
        "p99_ms": percentile(latency, 99),
        "max_ms": max(latency),
        "cpu_ms_per_wf": sum(cpu.values()) * 1000 / n,
        **{f"cpu_ms_per_wf_{role}": s * 1000 / n for role, s in cpu.items()},
    }


def variants(args) -> list[dict]:
    return [{"workflows": 200}]


register(
    Workload(
        name="w2",
        summary="200 workflows wait for an event each (one key per workflow); publish to completion",
        metrics=(
            Metric("p99_ms", "event published to workflow done, p99", "ms", "lower", {"embedded": 50, "kafka": 50}),
            Metric("p50_ms", "event published to workflow done, p50", "ms", "lower"),
            Metric("max_ms", "event published to workflow done, max", "ms", "lower"),
            Metric("cpu_ms_per_wf", "CPU per workflow, all processes", "ms", "lower"),
        ),
        run=run,
        warmup=True,
        variants=variants,
    )
)
