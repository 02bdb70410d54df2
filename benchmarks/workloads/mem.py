"""MEM: park 10,000 executions on waits; the worker's memory; then wake them all.

One repetition, on a fresh namespace (``bench_park`` in ``benchmarks/apps.py``: one
``ctx.step.suspend("park")`` with no timeout, then return the resume payload):

1. warm-up: 5 W1 workflows (on Kafka: the worker has joined and claimed its partitions);
   then the worker's RSS (``VmRSS`` of ``/proc/<pid>/status``) **before**;
2. invoke 10,000 ``bench_park`` (appends gathered 1,000 at a time); wait until the
   journal holds 10,000 ``Suspended`` records (a reader tails every partition and counts
   records by type from the header, polled every 0.5 s from the first invocation on, and
   samples the RSS at each tenth: ``curve.worker.<runs>``), then 2 s more to settle; the
   RSS then is **waiting**. ``VmHWM`` (the peak so far) is reported too;
3. ``client.resume(id, "park", {"i": i})`` for all 10,000 (1,000 at a time) and wait for
   every result (each checked); **wake time** is from the first resume to the last result;
   then the RSS **after**. The harness keeps only the runs' ids, not their handles or
   results: on the embedded log it is the worker's process.

The worker's status (``Worker.status()``, on Kafka its ``--status-file``) gives the runs it
holds in memory and its stores' RocksDB memory (``store.memory``) while all wait.

The worker is the harness process on the embedded log (its RSS includes the client) and
the ``engine.cli worker`` process on Kafka. ``--mem-client`` picks the client: ``store``
(default), a long-lived client with its own stores (``Client(store_dir=...)``), as a service
that resumes runs would run; or ``live``, the in-memory live view, which forgets keys past
``max_idle_keys`` and reads a partition again to resume or wait on one.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time

from engine import ExecutionHandle

from ..apps import bench_park, bench_w1
from ..envs import session
from ..journal import TypeCounter
from ..procstat import CpuMeter, memory_mb
from . import Metric, Workload, register

CHUNK = 1_000
TIMEOUT = 900.0
PER_RUN_S = 0.002  # added to TIMEOUT for parking: a million runs take longer than 15 min on one worker
SETTLE_S = 2.0
MB = 1024 * 1024


async def _chunked(calls, n: int) -> list:
    out = []
    for start in range(0, n, CHUNK):
        out.extend(await asyncio.gather(*(calls(i) for i in range(start, min(n, start + CHUNK)))))
    return out


async def _invoked_id(client, i: int) -> str:
    return (await bench_park.invoke(client, {"i": i})).execution_id


async def _checked_result(client, execution_id: str, i: int) -> int:
    """1 once the run returned its resume payload (checked; the result is not kept)."""
    handle = ExecutionHandle(client, execution_id, execution_id, False)  # bench_park: routed by its id
    result = await handle.result(timeout=TIMEOUT)
    if result != {"i": i}:
        raise AssertionError(f"execution #{i} returned the wrong payload: {result!r}")
    return 1


async def _until_parked(counter: TypeCounter, n: int, worker, pid: int, curve: dict[str, float]) -> None:
    """Wait until ``n`` runs are suspended, sampling the worker's RSS at every tenth."""
    deadline = time.monotonic() + TIMEOUT + n * PER_RUN_S
    every = max(1, n // 10)
    while True:
        parked = (await counter.drain())["Suspended"]
        worker.check()
        for mark in range(every, min(parked, n - 1) + 1, every):  # n itself: once settled
            curve.setdefault(f"curve.worker.{mark}", memory_mb(pid)["rss_mb"])
        if parked >= n:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {counter.counts['Suspended']} of {n} executions suspended")
        await asyncio.sleep(0.5)


async def run(env, params: dict) -> dict[str, float]:
    n = params["executions"]
    out: dict[str, float] = {}
    async with session(env, "mem", client_store=params.get("client") == "store") as s:
        client, worker = s.client, s.worker
        await s.guard(asyncio.gather(*(bench_w1.run(client, {"x": i}, timeout=120) for i in range(5))))
        pid = worker.pids.get("worker", os.getpid())
        gc.collect()
        before = memory_mb(pid)

        counter = TypeCounter(s.log)
        try:
            meter = CpuMeter(s.pids)
            t0 = time.perf_counter()
            # Counted while the invocations go out, so each tenth's sample is taken when it
            # is reached (counted only afterwards, the samples of a 1M run all came late).
            parked = asyncio.create_task(_until_parked(counter, n, worker, pid, out))
            try:
                # Only the ids are kept: on the embedded log the harness is the worker's
                # process, and a million handles (with their results) are not the worker's.
                ids = await _chunked(lambda i: _invoked_id(client, i), n)
            except BaseException:
                parked.cancel()
                raise
            await parked
            park_s = time.perf_counter() - t0
            cpu_park = meter.stop()
        finally:
            await counter.close()
        await asyncio.sleep(SETTLE_S)
        waiting = memory_mb(pid)
        out[f"curve.worker.{n}"] = waiting["rss_mb"]
        status = await worker.status()
        out["runs_in_memory_while_waiting"] = float(status["runs"]["in_memory"])
        out["idle_runs_while_waiting"] = float(status["runs"]["idle"])
        out["outcomes_awaited_while_waiting"] = float(status["outcomes_awaited"])
        out["rocksdb_cache_mb"] = status["store"]["cache_usage_bytes"] / MB
        out["rocksdb_memtables_mb"] = status["store"]["memtable_usage_bytes"] / MB

        meter = CpuMeter(s.pids)
        t0 = time.perf_counter()
        await _chunked(lambda i: client.resume(ids[i], "park", {"i": i}), n)
        completed = sum(await s.guard(_chunked(lambda i: _checked_result(client, ids[i], i), n)))
        wake_s = time.perf_counter() - t0
        cpu_wake = meter.stop()
        ids.clear()
        gc.collect()
        after = memory_mb(pid)

    return {
        "rss_waiting_mb": waiting["rss_mb"],
        "rss_before_mb": before["rss_mb"],
        "rss_growth_mb": waiting["rss_mb"] - before["rss_mb"],
        "kb_per_waiting": (waiting["rss_mb"] - before["rss_mb"]) * 1000 / n,
        "hwm_waiting_mb": waiting["hwm_mb"],
        "rss_after_mb": after["rss_mb"],
        "hwm_after_mb": after["hwm_mb"],
        "park_s": park_s,
        "wake_s": wake_s,
        "completed": float(completed),
        "cpu_s_park": sum(cpu_park.values()),
        "cpu_s_wake": sum(cpu_wake.values()),
        **{f"cpu_s_park_{role}": s for role, s in cpu_park.items()},
        **{f"cpu_s_wake_{role}": s for role, s in cpu_wake.items()},
        **out,
    }


def variants(args) -> list[dict]:
    return [{"executions": args.mem_executions, "client": client} for client in args.mem_client.split(",")]


register(
    Workload(
        name="mem",
        summary="10,000 executions parked on ctx.step.suspend: worker RSS; then resume all",
        metrics=(
            Metric("rss_waiting_mb", "worker RSS, all waiting", "MB", "lower", {"embedded": 300, "kafka": 300}),
            Metric("rss_before_mb", "worker RSS before invoking", "MB", "lower"),
            Metric("rss_growth_mb", "RSS growth, before to all waiting", "MB", "lower"),
            Metric("hwm_waiting_mb", "peak RSS (VmHWM) up to all waiting", "MB", "lower"),
            Metric("rss_after_mb", "worker RSS after all completed", "MB", "lower"),
            Metric("park_s", "invoke to all suspended", "s", "lower"),
            Metric("wake_s", "wake all: first resume to last result", "s", "lower"),
            Metric("completed", "executions completed after resume", "wf"),
            Metric("runs_in_memory_while_waiting", "runs held in memory while all wait", "runs", "lower"),
            Metric("rocksdb_cache_mb", "RocksDB block cache in use (memtables charged to it)", "MB", "lower"),
            Metric("rocksdb_memtables_mb", "RocksDB memtables, all stores", "MB", "lower"),
        ),
        run=run,
        variants=variants,
    )
)
