"""AUDIT: listings and a long history on a log of many runs (issue #19, part 6).

One repetition, on a fresh namespace: ``--audit-runs`` runs of ``bench_audit`` (default
100,000; one step; every tenth fails), invoked 1,000 at a time, and one ``bench_long``
run of ``--replay-steps`` steps (a history of about 10,000 records among them). Once
every run has ended (a reader counts ``ExecutionCompleted`` and ``ExecutionFailed``),
timed, each answer checked (one in ten runs failed):

1. ``list_failed_index_s``: ``list_executions(status="failed")`` from the workers' run
   index, read beside them (``Client(worker_data_dir=...)``): stores opened read-only, the
   unfolded tail laid over them, the failed runs' rows read;
2. ``cli_list_failed_s``: ``logloom workflow list --status failed --output json`` as a
   process, wall time (Python's start included). Embedded: it reads the workers' stores.
   Kafka: it keeps its own index store; ``cli_list_failed_cold_s`` is its first listing,
   which folds the whole log into it, ``cli_list_failed_s`` the next one (the tail only);
3. ``cli_list_page_s``: ``workflow list --status failed --limit 20``, one page;
4. ``list_failed_folded_s``: the same listing by a client with no store, which folds
   every partition from offset 0 (what every listing cost before the index);
5. ``history_10k_s``: ``client.history`` of the long run, read from its partition.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from engine import Client

from ..apps import bench_audit, bench_long
from ..envs import session
from ..journal import TypeCounter
from . import Metric, Workload, register

CHUNK = 1_000
TIMEOUT_S = 1800.0
ROOT = Path(__file__).resolve().parents[2]


async def _until_ended(counter: TypeCounter, n: int, worker) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        counts = await counter.drain()
        if counts["ExecutionCompleted"] + counts["ExecutionFailed"] >= n:
            return
        worker.check()
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {counts['ExecutionCompleted'] + counts['ExecutionFailed']} of {n} runs ended")
        await asyncio.sleep(0.5)


def _cli(env, namespace: str, workdir: Path, *args: str) -> tuple[float, list]:
    where = ["--namespace", namespace]
    if env.kind == "kafka":
        where += ["--kafka", env.bootstrap, "--store-dir", str(workdir / "cli-index")]
    else:
        where += ["--data-dir", str(workdir)]
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "engine.cli", *args, *where, "--output", "json"],
        cwd=ROOT, capture_output=True, text=True, timeout=TIMEOUT_S,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise AssertionError(f"logloom {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout)


async def run(env, params: dict) -> dict[str, float]:
    n = params["runs"]
    failed = len(range(0, n, 10))
    out: dict[str, float] = {}
    async with session(env, "audit") as s:
        client = s.client
        counter = TypeCounter(s.log)
        try:
            t0 = time.perf_counter()
            for start in range(0, n, CHUNK):
                await s.guard(
                    asyncio.gather(*(bench_audit.invoke(client, {"i": i}) for i in range(start, min(n, start + CHUNK))))
                )
            long_run = await bench_long.invoke(client, {"steps": params["steps"]})
            await _until_ended(counter, n + 1, s.worker)
            out["load_s"] = time.perf_counter() - t0
        finally:
            await counter.close()
        data_dir = s.workdir if env.kind == "embedded" else s.workdir / "worker"

        t0 = time.perf_counter()
        async with Client(s.log, worker_data_dir=data_dir) as beside:
            listed = await beside.list_executions(status="failed")
        out["list_failed_index_s"] = time.perf_counter() - t0
        if len(listed) != failed:
            raise AssertionError(f"the index listed {len(listed)} failed runs, not {failed}")

        if env.kind == "kafka":
            out["cli_list_failed_cold_s"], rows = _cli(
                env, s.namespace, s.workdir, "workflow", "list", "--status", "failed"
            )
        out["cli_list_failed_s"], rows = _cli(env, s.namespace, s.workdir, "workflow", "list", "--status", "failed")
        if len(rows) != failed:
            raise AssertionError(f"the CLI listed {len(rows)} failed runs, not {failed}")
        out["cli_list_page_s"], rows = _cli(
            env, s.namespace, s.workdir, "workflow", "list", "--status", "failed", "--limit", "20"
        )
        if len(rows) != 20:
            raise AssertionError(f"a page of 20 held {len(rows)}")

        t0 = time.perf_counter()
        folded = await client.list_executions(status="failed")
        out["list_failed_folded_s"] = time.perf_counter() - t0
        if len(folded) != failed:
            raise AssertionError(f"folding the log listed {len(folded)} failed runs, not {failed}")

        t0 = time.perf_counter()
        records = await client.history(long_run.execution_id)
        out["history_10k_s"] = time.perf_counter() - t0
        out["history_records"] = float(len(records))
        out["runs"] = float(n + 1)
    return out


def variants(args) -> list[dict]:
    return [{"runs": args.audit_runs, "steps": args.replay_steps}]


register(
    Workload(
        name="audit",
        summary="listings from the run index, and a long history, on a log of many runs",
        metrics=(
            Metric("cli_list_failed_s", "logloom workflow list --status failed (process, wall)", "s", "lower"),
            Metric("list_failed_index_s", "list_executions(status=failed) from the workers' index", "s", "lower"),
            Metric("cli_list_failed_cold_s", "Kafka: the CLI's first listing, folding its index store", "s", "lower"),
            Metric("cli_list_page_s", "workflow list --status failed --limit 20 (process, wall)", "s", "lower"),
            Metric("list_failed_folded_s", "the same listing folded from the log (no index)", "s", "lower"),
            Metric("history_10k_s", "client.history of the long run", "s", "lower"),
            Metric("history_records", "records in the long run's history", ""),
            Metric("load_s", "all runs invoked and ended", "s", "lower"),
            Metric("runs", "runs on the log", ""),
        ),
        run=run,
        variants=variants,
    )
)
