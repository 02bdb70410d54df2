"""SOAK: the memory of a long-lived worker and client over many short runs.

One repetition, on a fresh namespace: ``runs`` W1 workflows (3 sequential steps each,
``bench_w1``) at 64 in flight, through one worker and one client that live for all of
them. At every tenth of the runs completed (and after a 1,000-run warm-up) the RSS of:

* the harness process: the client (on the embedded log also the worker, which shares it);
* the worker process (Kafka only).

Every result is checked. The memory must not grow with the runs: ``growth_pct`` is the
RSS at the end against the RSS at the first tenth, for each process. Beside each sample,
the worker's RocksDB block cache in use (``rocksdb_cache_mb.<runs>``, from its status;
it fills up to its budget while the stores grow), what its SST files' readers hold
outside the cache (``rocksdb_table_readers_mb.<runs>``) and pymalloc's live blocks
(``python_allocated_blocks.<runs>``: Python objects), and glibc malloc's account of the
C heap (``c_heap_in_use_mb.<runs>``, and ``c_heap_free_held_mb.<runs>``: freed memory
that malloc keeps), to tell where any growth goes. The samples go to
the JSON as ``curve.<process>.<runs>`` and are drawn in ``memory.png``.
"""

from __future__ import annotations

import asyncio
import os
import time

from ..apps import bench_w1
from ..envs import session
from ..procstat import memory_mb
from . import Metric, Workload, register

IN_FLIGHT = 64
MB = 1024 * 1024
WARMUP_RUNS = 1_000
SAMPLES = 10
RESULT_TIMEOUT = 120.0


async def run(env, params: dict) -> dict[str, float]:
    n = params["runs"]
    every = max(1, n // SAMPLES)
    out: dict[str, float] = {}
    async with session(env, "soak", client_store=params.get("client") == "store") as s:
        client, worker = s.client, s.worker
        processes = {"harness": os.getpid(), **({"worker": worker.pids["worker"]} if "worker" in worker.pids else {})}
        limit = asyncio.Semaphore(IN_FLIGHT)
        failures: list[BaseException] = []

        async def one(x: int) -> None:
            try:
                handle = await bench_w1.invoke(client, {"x": x})
                result = await handle.result(timeout=RESULT_TIMEOUT)
                if result != x + 3:
                    raise AssertionError(f"bench_w1({x}) returned {result!r}, expected {x + 3}")
            except BaseException as exc:  # reported once the in-flight runs are done
                failures.append(exc)
            finally:
                limit.release()

        async def through(start: int, count: int) -> None:
            tasks = set()
            for x in range(start, start + count):
                await limit.acquire()
                task = asyncio.create_task(one(x))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                if failures:
                    break
            await s.guard(asyncio.gather(*tasks))
            if failures:
                raise failures[0]

        await through(-WARMUP_RUNS, WARMUP_RUNS)
        t0 = time.perf_counter()
        for done in range(every, n + 1, every):
            await through(done - every, every)
            for process, pid in processes.items():
                out[f"curve.{process}.{done}"] = memory_mb(pid)["rss_mb"]
            # The worker's stores' block cache (memtables charged to it): what of the RSS is
            # RocksDB filling its budget, not growth.
            status = await worker.status()
            out[f"rocksdb_cache_mb.{done}"] = status["store"]["cache_usage_bytes"] / MB
            out[f"rocksdb_table_readers_mb.{done}"] = status["store"].get("table_readers_bytes", 0) / MB
            out[f"python_allocated_blocks.{done}"] = float(status.get("python", {}).get("allocated_blocks", 0))
            heap = status.get("c_heap") or {}
            out[f"c_heap_in_use_mb.{done}"] = heap.get("in_use_bytes", 0) / MB
            out[f"c_heap_free_held_mb.{done}"] = heap.get("free_held_bytes", 0) / MB
            worker.check()
        elapsed = time.perf_counter() - t0

    for process in processes:
        first, last = out[f"curve.{process}.{every}"], out[f"curve.{process}.{every * SAMPLES}"]
        out[f"rss_first_mb_{process}"] = first
        out[f"rss_last_mb_{process}"] = last
        out[f"growth_pct_{process}"] = (last - first) * 100 / first
    out["wf_per_s"] = n / elapsed
    return out


def variants(args) -> list[dict]:
    return [{"runs": args.soak_runs, "client": client} for client in args.soak_client.split(",")]


register(
    Workload(
        name="soak",
        summary="many short 3-step runs through one worker and one client: RSS every tenth",
        metrics=(
            Metric(
                "growth_pct_harness",
                "client (+ embedded worker) RSS growth, 1st tenth to end",
                "%",
                "lower",
                {"embedded": 10, "kafka": 10},
            ),
            Metric("growth_pct_worker", "worker RSS growth, 1st tenth to end", "%", "lower", {"kafka": 10}),
            Metric("rss_first_mb_harness", "client (+ embedded worker) RSS at 1st tenth", "MB", "lower"),
            Metric("rss_last_mb_harness", "client (+ embedded worker) RSS at the end", "MB", "lower"),
            Metric("rss_first_mb_worker", "worker RSS at 1st tenth", "MB", "lower"),
            Metric("rss_last_mb_worker", "worker RSS at the end", "MB", "lower"),
            Metric("wf_per_s", "throughput over the soak", "wf/s"),
        ),
        run=run,
        variants=variants,
    )
)
