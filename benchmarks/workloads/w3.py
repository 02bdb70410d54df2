"""W3 crash recovery: ``kill -9`` the worker with about half of 500 workflows done, restart it.

One repetition, on a fresh namespace (``bench_w3`` in ``benchmarks/apps.py``): 500
workflows ``w3-0`` .. ``w3-499`` of 3 steps, at most 64 in flight; every step body first
appends ``execution,step`` to an effects file (O_APPEND, one write per line), step 2 then
sleeps 50 ms (``asyncio.sleep`` in the body). When 250 ``s3`` lines are in the file the
worker process gets SIGKILL and is started again at once, on the same data dir.

* embedded: the process killed is ``python -m benchmarks.w3_driver`` (log + worker +
  client: the embedded log is single-process). The second driver invokes the same ids
  again (deduplicated by execution id) and waits for all 500 results.
* Kafka: the worker is ``python -m engine.cli worker benchmarks/apps.py --kafka ...``;
  the client in the harness keeps waiting for its 500 results across the restart.

On Kafka the ids are fresh (uuid4): the harness client outlives the kill, and
``Client._watch`` scans the partition for every new caller-chosen id (see the docs).

The analysis (``benchmarks/workloads/w3_check.py``) compares the effects file (lines
written before the kill vs after) with the journal.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from engine import Client, EmbeddedLog

from .. import journal
from ..apps import bench_w1, bench_w3
from ..envs import ROOT, new_namespace
from . import Metric, Workload, register
from .w3_check import Effects, analyse

RESULT_TIMEOUT = 300.0
FIRST, SECOND = "w3-run1", "w3-run2"  # worker ids of the killed and the restarted worker


async def _until_half(effects: Effects, half: int, alive, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    while effects.s3_lines() < half:
        alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {effects.s3_lines()} of {half} workflows reached step 3")
        await asyncio.sleep(0.002)


def _kill9(proc: subprocess.Popen) -> float:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return time.time()


def _pythonpath() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


async def _embedded(env, params, workdir: Path, namespace: str, effects: Effects) -> dict:
    data = workdir / "data"

    def spawn(worker_id: str) -> subprocess.Popen:
        cmd = [
            sys.executable,
            "-m",
            "benchmarks.w3_driver",
            str(data),
            namespace,
            str(effects.path),
            "--count",
            str(params["workflows"]),
            "--concurrency",
            str(params["concurrency"]),
            "--partitions",
            str(env.partitions),
            "--worker-id",
            worker_id,
        ]
        with open(workdir / f"{worker_id}.out", "wb") as out, open(workdir / f"{worker_id}.err", "wb") as err:
            return subprocess.Popen(cmd, cwd=ROOT, env=_pythonpath(), stdin=subprocess.DEVNULL, stdout=out, stderr=err)

    def tail(worker_id: str) -> str:
        return (workdir / f"{worker_id}.err").read_text(errors="replace")[-3000:]

    first = spawn(FIRST)

    def alive() -> None:
        if first.poll() is not None:
            raise RuntimeError(f"driver exited with {first.returncode} before the kill:\n{tail(FIRST)}")

    try:
        await _until_half(effects, params["workflows"] // 2, alive)
    finally:
        killed_at = _kill9(first)
    effects.mark_kill()
    restarted_at = time.time()
    second = spawn(SECOND)
    try:
        code = await asyncio.to_thread(second.wait, RESULT_TIMEOUT + 60)
    except subprocess.TimeoutExpired:
        second.kill()
        raise
    if code != 0:
        raise RuntimeError(f"restarted driver exited with {code}:\n{tail(SECOND)}")
    out = json.loads((workdir / f"{SECOND}.out").read_text().strip().splitlines()[-1])
    log = EmbeddedLog(data, namespace, partitions=env.partitions, read_only=True)  # the driver has exited
    await log.start()
    try:
        records = await journal.scan(log)
    finally:
        await log.close()
    return {
        "killed_at": killed_at,
        "restarted_at": restarted_at,
        "all_done_at": out["all_done_at"],
        "results_ok": out["results_ok"],
        "records": records,
        "ids": [f"w3-{i}" for i in range(params["workflows"])],
    }


async def _kafka(env, params, workdir: Path, namespace: str, effects: Effects) -> dict:
    log = env.new_log(workdir, namespace, env.partitions)
    await log.start()
    client = Client(log)
    workers = [await env.start_worker(log, namespace, workdir, worker_id=FIRST)]
    limit = asyncio.Semaphore(params["concurrency"])
    done_at: list[float] = []
    ids: list[str] = []

    async def one(i: int):
        async with limit:
            # Fresh ids: this client outlives the kill. (Client._watch scans the partition for
            # every new caller-chosen id, which holds Kafka W3 at ~100 wf/s, see the docs.)
            handle = await bench_w3.invoke(client, {"effects": str(effects.path)})
            ids.append(handle.execution_id)
            result = await handle.result(timeout=RESULT_TIMEOUT)
            done_at.append(time.time())
            return result

    try:
        try:  # the worker has joined the group and claimed its partitions
            await asyncio.gather(*(bench_w1.run(client, {"x": i}, timeout=120) for i in range(5)))
        except Exception:
            workers[0].check()
            raise
        batch = asyncio.ensure_future(asyncio.gather(*(one(i) for i in range(params["workflows"]))))
        try:
            await _until_half(effects, params["workflows"] // 2, workers[0].check)
        finally:
            killed_at = _kill9(workers[0].proc)
        effects.mark_kill()
        restarted_at = time.time()
        workers.append(await env.start_worker(log, namespace, workdir, worker_id=SECOND))
        try:
            results = await batch
        except Exception:
            workers[1].check()
            raise
        records = await journal.scan(log)
    finally:
        await client.close()
        for worker in workers:
            await worker.stop()
        await log.close()
        await env.drop_namespace(namespace)
    return {
        "killed_at": killed_at,
        "restarted_at": restarted_at,
        "all_done_at": max(done_at),
        "results_ok": sum(1 for r in results if r == 3),
        "records": records,
        "ids": ids,
    }


async def run(env, params: dict) -> dict[str, float]:
    workdir = Path(tempfile.mkdtemp(prefix="logloom-bench-w3-"))
    namespace = new_namespace("w3")
    effects = Effects(workdir / "effects.log")
    try:
        phase = _embedded if env.kind == "embedded" else _kafka
        outcome = await phase(env, params, workdir, namespace, effects)
        return analyse(outcome, effects, FIRST, SECOND)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def variants(args) -> list[dict]:
    return [{"workflows": args.w3_workflows, "concurrency": 64, "step2_sleep_ms": 50}]


register(
    Workload(
        name="w3",
        summary="kill -9 the worker with about half of 500 3-step workflows done; restart it",
        metrics=(
            Metric("not_completed", "executions not completed", "wf", "lower", {"embedded": 0, "kafka": 0}),
            Metric(
                "completed_steps_rerun", "completed steps that ran again", "steps", "lower", {"embedded": 0, "kafka": 0}
            ),
            Metric("inflight_steps_rerun", "in-flight steps re-run (allowed)", "steps", "lower"),
            Metric("bodies_ran_twice", "step bodies that ran twice, all", "steps", "lower"),
            Metric("restart_to_complete_s", "restart to all complete", "s", "lower"),
            Metric("restart_to_claimed_s", "restart to partitions claimed", "s", "lower"),
            Metric("done_before_kill", "executions completed before the kill", "wf"),
            Metric("completed", "executions completed", "wf"),
        ),
        run=run,
        variants=variants,
    )
)
