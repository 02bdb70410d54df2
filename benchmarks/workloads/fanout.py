"""FANOUT: a parent that starts 1,000 child workflows and waits for them, and a ``ctx.batch``
of 1,000 items.

One repetition, on a fresh namespace (``bench_fanout`` and ``bench_batch`` in
``benchmarks/apps.py``):

1. warm-up: 5 W1 workflows;
2. children: invoke one ``bench_fanout`` (``ctx.step.batch_invoke_and_wait`` of 1,000
   ``bench_child``, one durable step each, spread over every partition by their ids) and
   wait for its result. Per child that is a ``ChildInvoked`` and ``ChildFinished`` on the
   parent's partition, and an invocation, start, step, end and acknowledgement on the
   child's;
3. batch: invoke one ``bench_batch`` (``ctx.batch`` of 1,000 items, ``max_concurrency=50``,
   one durable step each) and wait for its result.

Reported: seconds from invoke to result for each, and the rate per second.
"""

from __future__ import annotations

import asyncio
import time

from ..apps import bench_batch, bench_fanout, bench_w1
from ..envs import session
from ..procstat import CpuMeter
from . import Metric, Workload, register

RESULT_TIMEOUT = 300.0


async def run(env, params: dict) -> dict[str, float]:
    n = params["items"]
    async with session(env, "fanout") as s:
        client = s.client
        await s.guard(asyncio.gather(*(bench_w1.run(client, {"x": i}, timeout=120) for i in range(5))))
        meter = CpuMeter(s.pids)
        t0 = time.perf_counter()
        total = await s.guard(bench_fanout.run(client, {"n": n}, timeout=RESULT_TIMEOUT))
        children_s = time.perf_counter() - t0
        cpu_children = meter.stop()
        if total != sum(i + 1 for i in range(n)):
            raise AssertionError(f"fan-out returned {total}")
        meter = CpuMeter(s.pids)
        t0 = time.perf_counter()
        total = await s.guard(bench_batch.run(client, {"n": n, "max_concurrency": 50}, timeout=RESULT_TIMEOUT))
        batch_s = time.perf_counter() - t0
        cpu_batch = meter.stop()
        if total != sum(i + 1 for i in range(n)):
            raise AssertionError(f"batch returned {total}")
    return {
        "children_s": children_s,
        "children_per_s": n / children_s,
        "cpu_ms_per_child": sum(cpu_children.values()) * 1000 / n,
        "batch_s": batch_s,
        "batch_items_per_s": n / batch_s,
        "cpu_ms_per_item": sum(cpu_batch.values()) * 1000 / n,
    }


def variants(args) -> list[dict]:
    return [{"items": 1000}]


register(
    Workload(
        name="fanout",
        summary="a parent waits for 1,000 child workflows; a ctx.batch of 1,000 items",
        metrics=(
            Metric("children_s", "1,000 children: invoke to parent's result", "s", "lower"),
            Metric("children_per_s", "children per second", "/s"),
            Metric("cpu_ms_per_child", "CPU per child, all processes", "ms", "lower"),
            Metric("batch_s", "ctx.batch of 1,000 items: invoke to result", "s", "lower"),
            Metric("batch_items_per_s", "batch items per second", "/s"),
            Metric("cpu_ms_per_item", "CPU per batch item, all processes", "ms", "lower"),
        ),
        run=run,
        variants=variants,
    )
)
