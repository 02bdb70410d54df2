"""QUEUE: what a queue costs a run, and how fast a freed slot goes to the next run (issue #18).

One repetition, on a fresh namespace, W1's workflow (``bench_w1``: 3 steps):

1. warm-up: 50 runs, at most 64 in flight;
2. **no queue**: 2,000 runs, at most 64 in flight (as W1);
3. **one key**: the same through ``queue("bench", concurrency_limit=1000)`` with one
   concurrency key: the limit is never reached, so what is measured is the queue's own
   cost; all the runs share one partition (the key's), against all of them for 2;
4. **64 keys**: the same with ``concurrency_key=str(i % 64)``: the runs spread over the
   partitions again;
5. **handoff**: 200 runs through a queue of 1, submitted at once; for each run after the
   first, its ``ExecutionStarted`` time − the previous run's ``ExecutionCompleted`` time
   (from the execution rows): how long a freed slot takes to start the next run.

Phases 2 to 4 report workflows/s and the latency p50/p99 from submit to result. Runs on a
queue key share its routing key, so a client's live view (``--queue-client live``) folds
every run of the key to answer for one; a client with its own stores (``store``) does not.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from engine import queue

from ..apps import bench_w1
from ..envs import session
from ..stats import percentile
from . import Metric, Workload, register

RESULT_TIMEOUT = 120.0


async def _phase(client, start: int, count: int, concurrency: int, on_queue=None, keys: int = 1) -> dict:
    gate = asyncio.Semaphore(concurrency)
    latencies: list[float] = []

    async def one(i: int) -> None:
        async with gate:
            t0 = time.perf_counter()
            options = {} if on_queue is None else {"queue": on_queue, "concurrency_key": str(i % keys)}
            handle = await bench_w1.invoke(client, {"x": start + i}, **options)
            if await handle.result(timeout=RESULT_TIMEOUT) != start + i + 3:
                raise AssertionError(f"bench_w1({start + i}) returned a wrong result")
            latencies.append(time.perf_counter() - t0)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(count)))
    elapsed = time.perf_counter() - t0
    return {"wf_per_s": count / elapsed, "p50_ms": percentile(latencies, 50) * 1000,
            "p99_ms": percentile(latencies, 99) * 1000}  # fmt: skip


async def _handoff(client, count: int) -> list[float]:
    single = queue(f"one-{uuid.uuid4().hex[:8]}", concurrency_limit=1)
    handles = [await bench_w1.invoke(client, {"x": i}, queue=single) for i in range(count)]
    await asyncio.gather(*(h.result(timeout=RESULT_TIMEOUT) for h in handles))
    runs = sorted([await client.get_execution(h.execution_id) for h in handles], key=lambda e: e.started_at)
    return [(b.started_at - a.completed_at).total_seconds() * 1000 for a, b in zip(runs, runs[1:])]


async def run(env, params: dict) -> dict[str, float]:
    n, concurrency = params["workflows"], 64
    wide = queue("bench", concurrency_limit=1000)
    async with session(env, "queue", client_store=params["client"] == "store") as s:
        client = s.client
        await s.guard(_phase(client, 0, 50, concurrency))
        plain = await s.guard(_phase(client, 1_000_000, n, concurrency))
        one_key = await s.guard(_phase(client, 2_000_000, n, concurrency, wide, keys=1))
        many_keys = await s.guard(_phase(client, 3_000_000, n, concurrency, wide, keys=64))
        handoff = await s.guard(_handoff(client, params["handoff_runs"]))
    if min(handoff) < 0:
        raise AssertionError(f"a run started {-min(handoff):.1f} ms before the previous one ended")
    out = {}
    for name, figures in (("plain", plain), ("one_key", one_key), ("keys64", many_keys)):
        out.update({f"{name}_{k}": v for k, v in figures.items()})
    out["one_key_overhead_pct"] = (plain["wf_per_s"] / one_key["wf_per_s"] - 1) * 100
    out["keys64_overhead_pct"] = (plain["wf_per_s"] / many_keys["wf_per_s"] - 1) * 100
    out["handoff_p50_ms"] = percentile(handoff, 50)
    out["handoff_p99_ms"] = percentile(handoff, 99)
    return out


def variants(args) -> list[dict]:
    return [{"workflows": args.w1_workflows, "handoff_runs": 200, "client": c} for c in args.queue_client.split(",")]


register(
    Workload(
        name="queue",
        summary="W1 without a queue, through a queue never full (1 key, 64 keys); slot handoff to the next run",
        metrics=(
            Metric("plain_wf_per_s", "no queue: throughput, 64 in flight", "wf/s"),
            Metric("one_key_wf_per_s", "queue, 1 key: throughput", "wf/s"),
            Metric("keys64_wf_per_s", "queue, 64 keys: throughput", "wf/s"),
            Metric("one_key_overhead_pct", "queue, 1 key: time per run vs no queue", "%", "lower"),
            Metric("keys64_overhead_pct", "queue, 64 keys: time per run vs no queue", "%", "lower"),
            Metric("plain_p50_ms", "no queue: latency p50", "ms", "lower"),
            Metric("keys64_p50_ms", "queue, 64 keys: latency p50", "ms", "lower"),
            Metric("handoff_p50_ms", "slot freed to next run started, p50", "ms", "lower"),
            Metric("handoff_p99_ms", "slot freed to next run started, p99", "ms", "lower"),
        ),
        run=run,
        variants=variants,
    )
)
