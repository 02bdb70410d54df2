"""W1 throughput: workflows of 3 sequential durable steps (each returns its input + 1).

One repetition, on a fresh namespace:

1. warm-up: 50 workflows, at most 64 in flight (on Kafka this also waits for the worker
   to join the group and claim its partitions);
2. throughput: 2,000 invocations, at most 64 in flight (``asyncio.Semaphore``), each
   timed from submit (``await wf.invoke(client, payload)``) to result
   (``await handle.result()``);
3. one at a time: 200 invocations, each awaited before the next is submitted.

CPU seconds of every process involved (harness, worker, broker) are read from /proc
before and after phases 2 and 3.
"""

from __future__ import annotations

import asyncio
import time

from engine import Client

from ..apps import bench_w1
from ..envs import session
from ..procstat import CpuMeter
from ..stats import percentile
from . import Metric, Workload, register

STEPS = 3
RESULT_TIMEOUT = 120.0


async def _one(client: Client, x: int) -> float:
    t0 = time.perf_counter()
    handle = await bench_w1.invoke(client, {"x": x})
    result = await handle.result(timeout=RESULT_TIMEOUT)
    latency = time.perf_counter() - t0
    if result != x + STEPS:
        raise AssertionError(f"bench_w1({x}) returned {result!r}, expected {x + STEPS}")
    return latency


async def _concurrent(client: Client, start: int, count: int, concurrency: int) -> list[float]:
    limit = asyncio.Semaphore(concurrency)

    async def one(x: int) -> float:
        async with limit:
            return await _one(client, x)

    return await asyncio.gather(*(one(start + i) for i in range(count)))


def _cpu_metrics(prefix: str, cpu: dict[str, float], workflows: int) -> dict[str, float]:
    out = {f"{prefix}cpu_ms_per_wf": sum(cpu.values()) * 1000 / workflows}
    for role, seconds in cpu.items():
        out[f"{prefix}cpu_ms_per_wf_{role}"] = seconds * 1000 / workflows
    return out


async def run(env, params: dict) -> dict[str, float]:
    async with session(env, "w1") as s:
        client = s.client
        await s.guard(_concurrent(client, 0, params["warmup"], params["concurrency"]))

        meter = CpuMeter(s.pids)
        t0 = time.perf_counter()
        latencies = await _concurrent(client, 1_000_000, params["workflows"], params["concurrency"])
        elapsed = time.perf_counter() - t0
        cpu = meter.stop()

        meter = CpuMeter(s.pids)
        sequential = [await _one(client, 2_000_000 + i) for i in range(params["sequential"])]
        cpu_seq = meter.stop()

    n = params["workflows"]
    seq = {}
    if sequential:  # 0 when profiling the 64-in-flight phase alone
        seq = {
            "seq_p50_ms": percentile(sequential, 50) * 1000,
            "seq_p99_ms": percentile(sequential, 99) * 1000,
            **_cpu_metrics("seq_", cpu_seq, len(sequential)),
        }
    return {
        "wf_per_s": n / elapsed,
        "steps_per_s": n * STEPS / elapsed,
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        **_cpu_metrics("", cpu, n),
        **seq,
        "elapsed_s": elapsed,
    }


def variants(args) -> list[dict]:
    return [
        {
            "workflows": args.w1_workflows,
            "concurrency": 64,
            "sequential": args.w1_sequential,
            "warmup": 50,
            "steps": STEPS,
        }
    ]


register(
    Workload(
        name="w1",
        summary="3-step workflows: 2,000 with 64 in flight, then 200 one at a time",
        metrics=(
            Metric("wf_per_s", "throughput, 64 in flight", "wf/s", "higher", {"embedded": 1000, "kafka": 500}),
            Metric("steps_per_s", "steps, 64 in flight", "steps/s"),
            Metric("p50_ms", "latency p50, 64 in flight", "ms", "lower"),
            Metric("p99_ms", "latency p99, 64 in flight", "ms", "lower"),
            Metric("cpu_ms_per_wf", "CPU per workflow, all processes", "ms", "lower"),
            Metric("seq_p50_ms", "latency p50, one at a time", "ms", "lower", {"embedded": 5, "kafka": 10}),
            Metric("seq_p99_ms", "latency p99, one at a time", "ms", "lower"),
            Metric("seq_cpu_ms_per_wf", "CPU per workflow, one at a time", "ms", "lower"),
        ),
        run=run,
        warmup=True,
        variants=variants,
    )
)
