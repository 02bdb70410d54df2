"""FAULTS: throughput under faults. W1-like load on Kafka workers, one ``kill -9``ed every 10 s.

Kafka only (the embedded log is one process). One repetition, on a fresh namespace,
for each worker count in ``--faults-workers`` (default 1,2,3):

1. start the workers (``logloom worker`` processes, each with its own data dir), and
   wait until they own every partition;
2. for ``--faults-seconds`` (default 60), keep 64 ``bench_fault`` runs in flight (W1's
   three steps; each body notes when it ran in an effects file), fresh ids;
3. every ``--faults-kill-every-s`` (default 10) ``kill -9`` a random worker, and start it
   again on the same data dir ``--faults-restart-after-s`` later (default 3);
4. stop starting runs, wait for every run in flight, read the journal back.

Reported (``benchmarks/fault_verdict.py`` says what is provable and how):

* ``wf_per_s``: runs completed within the load period / its length; ``p50_ms`` and
  ``p99_ms``: invoke to result, of every run;
* ``ran_again``: completed steps whose body ran again: must be 0;
* ``duplicates``: bodies of steps in flight at a kill, run again (allowed);
* ``stall_p50_s`` / ``stall_max_s``: per kill, from the kill until every partition the
  killed worker owned has a new ``StepCompleted``: its runs progress again.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

from engine import Client

from .. import journal
from ..apps import bench_fault
from ..envs import new_namespace
from ..fault_verdict import judge
from . import Metric, Workload, register

IN_FLIGHT = 64
RESULT_TIMEOUT_S = 180.0


async def _until_owned(workers, partitions: int, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        owned = set()
        for worker in workers:
            status = await worker.status()
            owned |= {int(p) for p, info in status["partitions"].items() if info["phase"] == "active"}
        if len(owned) == partitions:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"the workers own {sorted(owned)} of {partitions} partitions")


async def run(env, params: dict) -> dict[str, float]:
    if env.kind != "kafka":
        raise ValueError("FAULTS runs on Kafka only: the embedded log is one process")
    workdir = Path(tempfile.mkdtemp(prefix="logloom-bench-faults-"))
    namespace = new_namespace("faults")
    effects = workdir / "effects.log"
    log = env.new_log(workdir, namespace, env.partitions)
    await log.start()
    client = Client(log)
    ids = [f"w{i}" for i in range(params["workers"])]
    for w in ids:
        (workdir / w).mkdir()
    workers = {w: await env.start_worker(log, namespace, workdir / w, worker_id=w) for w in ids}
    latencies: list[float] = []
    kills: list[tuple[float, str]] = []
    try:
        await _until_owned(list(workers.values()), log.num_partitions)
        limit = asyncio.Semaphore(IN_FLIGHT)
        started = time.monotonic()
        stop_at = started + params["seconds"]
        completed_in_period = 0

        async def one(i: int) -> None:
            nonlocal completed_in_period
            try:
                t0 = time.monotonic()
                handle = await bench_fault.invoke(client, {"effects": str(effects), "x": i})
                if await handle.result(timeout=RESULT_TIMEOUT_S) != i + 3:
                    raise AssertionError(f"run {handle.execution_id} returned a wrong result")
                latencies.append(time.monotonic() - t0)
                if time.monotonic() <= stop_at:
                    completed_in_period += 1
            finally:
                limit.release()

        async def load() -> list[asyncio.Task]:
            tasks, i = [], 0
            while time.monotonic() < stop_at:
                await limit.acquire()
                tasks.append(asyncio.create_task(one(i)))
                i += 1
            return tasks

        async def faults() -> None:
            restarts = []
            while time.monotonic() + params["kill_every_s"] < stop_at:
                await asyncio.sleep(params["kill_every_s"])
                victim = random.choice(ids)
                workers[victim].proc.send_signal(signal.SIGKILL)
                await asyncio.to_thread(workers[victim].proc.wait)
                kills.append((time.time(), victim))
                restarts.append(asyncio.create_task(_restart(victim)))
            await asyncio.gather(*restarts)

        async def _restart(victim: str) -> None:
            await asyncio.sleep(params["restart_after_s"])
            workers[victim] = await env.start_worker(log, namespace, workdir / victim, worker_id=victim)

        tasks, _ = await asyncio.gather(load(), faults())
        await asyncio.gather(*tasks)
        records = await journal.scan(log)
    finally:
        await client.close()
        for worker in workers.values():
            await worker.stop()
        await log.close()
        await env.drop_namespace(namespace)
    try:
        verdict = judge(effects, records, kills)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    latencies.sort()
    if verdict.ran_again:
        print("ran again, e.g.:", verdict.ran_again[:5], file=sys.stderr)
    return {
        "wf_per_s": completed_in_period / params["seconds"],
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "ran_again": float(len(verdict.ran_again)),
        "duplicates": float(verdict.duplicates),
        "stall_p50_s": statistics.median(verdict.stalls_s) if verdict.stalls_s else float("nan"),
        "stall_max_s": max(verdict.stalls_s) if verdict.stalls_s else float("nan"),
        "kills": float(len(kills)),
        "kills_owning": float(verdict.hits),
        "runs": float(len(latencies)),
    }


def variants(args) -> list[dict]:
    return [
        {
            "workers": n,
            "seconds": args.faults_seconds,
            "kill_every_s": args.faults_kill_every_s,
            "restart_after_s": args.faults_restart_after_s,
        }
        for n in args.faults_workers
    ]


register(
    Workload(
        name="faults",
        summary="W1-like load on Kafka workers, one kill -9ed every 10 s and restarted",
        metrics=(
            Metric("wf_per_s", "runs completed per second, under faults", "wf/s", "higher"),
            Metric("p99_ms", "invoke to result, p99", "ms", "lower"),
            Metric("p50_ms", "invoke to result, p50", "ms", "lower"),
            Metric("stall_p50_s", "per kill: until the killed worker's partitions progress, p50", "s", "lower"),
            Metric("stall_max_s", "per kill: until the killed worker's partitions progress, max", "s", "lower"),
            Metric("ran_again", "completed steps that ran again", "steps", "lower", {"kafka": 0}),
            Metric("duplicates", "bodies in flight at a kill, run again (allowed)", "steps", "lower"),
            Metric("kills", "workers killed", ""),
            Metric("kills_owning", "of them, owning partitions at the kill", ""),
            Metric("runs", "runs completed", ""),
        ),
        run=run,
        variants=variants,
    )
)
