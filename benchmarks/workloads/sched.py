"""SCHED: how far after its tick a scheduled run starts (issue #18).

One repetition, on a fresh namespace (``bench_tick`` in ``benchmarks/apps.py``: a step
that returns the wall-clock time it ran at):

1. warm-up: 5 W1 workflows (on Kafka: the worker has joined and claimed its partitions);
2. ``schedules.create(client, bench_tick, "* * * * * *", overlap="allow_all")``: a run
   every second, for ``--sched-seconds`` (default 40); then pause it and wait for every
   run to end;
3. read the journal back (``benchmarks/journal.py``).

For each run, against its tick (from its id: ``<schedule>@tick-<UTC time>``):
**started** = its ``ExecutionStarted`` record's ``at`` − tick, **step** = the wall-clock
time its step ran − tick. Also **fired** = each ``ScheduleTicked`` record's ``at`` − the
timer's ``due_at``: how late the owner's loop timer went off.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

from engine import schedules

from .. import journal
from ..apps import bench_tick, bench_w1
from ..envs import session
from ..procstat import CpuMeter
from ..stats import percentile
from . import Metric, Workload, register

RESULT_TIMEOUT = 120.0


async def run(env, params: dict) -> dict[str, float]:
    async with session(env, "sched") as s:
        client = s.client
        await s.guard(asyncio.gather(*(bench_w1.run(client, {"x": i}, timeout=120) for i in range(5))))
        meter = CpuMeter(s.pids)
        schedule = await schedules.create(
            client, bench_tick, "* * * * * *", key=uuid.uuid4().hex[:8], overlap="allow_all"
        )
        await s.guard(asyncio.sleep(params["seconds"]))
        await schedules.pause(client, schedule.schedule_id)
        ids = (await schedules.get(client, schedule.schedule_id)).open_runs
        cpu = meter.stop()
        handles = [await client.handle(i) for i in ids]
        await s.guard(asyncio.gather(*(h.result(timeout=RESULT_TIMEOUT) for h in handles)))
        listed = [e for e in await client.list_executions() if e.workflow == "bench_tick"]
        records = await journal.scan(s.log)

    started, step, fired = [], [], []
    for execution in listed:
        tick_s = _tick_s(execution.execution_id)
        started.append((execution.started_at.timestamp() - tick_s) * 1000)
        step.append((execution.result - tick_s) * 1000)
    for r in records:
        if r.applied and r.fields["type"] == "ScheduleTicked":
            fired.append(float(r.fields["at"] - r.fields["due_at"]))
    if len(listed) < params["seconds"] - 2:
        raise AssertionError(f"{len(listed)} runs in {params['seconds']} s of an every-second schedule")
    return {
        "runs": float(len(listed)),
        "started_p50_ms": percentile(started, 50),
        "started_p99_ms": percentile(started, 99),
        "step_p50_ms": percentile(step, 50),
        "step_p99_ms": percentile(step, 99),
        "fired_p50_ms": percentile(fired, 50),
        "fired_p99_ms": percentile(fired, 99),
        "cpu_ms_per_run": sum(cpu.values()) * 1000 / len(listed),
    }


def _tick_s(execution_id: str) -> float:
    stamp = execution_id.rsplit("@tick-", 1)[1]
    return datetime.strptime(stamp + "+0000", "%Y%m%dT%H%M%SZ%z").timestamp()


def variants(args) -> list[dict]:
    return [{"seconds": args.sched_seconds}]


register(
    Workload(
        name="sched",
        summary="an every-second schedule for 40 s: how long after its tick each run starts",
        metrics=(
            Metric("started_p50_ms", "tick to ExecutionStarted, p50", "ms", "lower"),
            Metric("started_p99_ms", "tick to ExecutionStarted, p99", "ms", "lower", {"embedded": 100, "kafka": 200}),
            Metric("step_p50_ms", "tick to its first step running, p50", "ms", "lower"),
            Metric("step_p99_ms", "tick to its first step running, p99", "ms", "lower"),
            Metric("fired_p50_ms", "ScheduleTicked written minus due, p50", "ms", "lower"),
            Metric("fired_p99_ms", "ScheduleTicked written minus due, p99", "ms", "lower"),
            Metric("runs", "runs started", "runs"),
        ),
        run=run,
        variants=variants,
    )
)
