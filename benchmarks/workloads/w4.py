"""W4 durable sleep: 200 workflows each ``await ctx.sleep(2)`` durably, then return.

One repetition, on a fresh namespace (``bench_w4`` in ``benchmarks/apps.py``):

1. warm-up: 5 W1 workflows (on Kafka: the worker has joined and claimed its partitions);
2. invoke 200 ``bench_w4`` at once; each sleeps 2 s durably (``ctx.sleep(2)``: a
   ``TimerScheduled`` record with ``due_at`` in ms; a 2 s wait is evicted from memory),
   then runs a step that returns ``time.time()``;
3. wait for the 200 results, then read the journal back (``benchmarks/journal.py``).

Lateness of one workflow = the wall-clock time its step after the sleep ran at − the
recorded ``due_at`` (from its ``TimerScheduled`` record). Also reported: when the
worker wrote ``TimerFired`` (its ``at``, ms) − ``due_at``; negative by design, since a
sleep's ``TimerFired`` is written up to ``SLEEP_LEAD_MS`` early and the workflow waits
out the rest itself (``engine/processor.py``).
"""

from __future__ import annotations

import asyncio
import time

from .. import journal
from ..apps import bench_w1, bench_w4
from ..envs import session
from ..procstat import CpuMeter
from ..stats import percentile
from . import Metric, Workload, register

RESULT_TIMEOUT = 120.0


async def run(env, params: dict) -> dict[str, float]:
    in_memory = None
    async with session(env, "w4") as s:
        client, worker = s.client, s.worker
        await s.guard(asyncio.gather(*(bench_w1.run(client, {"x": i}, timeout=120) for i in range(5))))
        meter = CpuMeter(s.pids)
        t0 = time.perf_counter()
        handles = await asyncio.gather(
            *(bench_w4.invoke(client, {"seconds": params["sleep_s"]}) for _ in range(params["workflows"]))
        )
        if hasattr(worker, "worker"):  # embedded: how many sleeping executions hold a task
            await asyncio.sleep(params["sleep_s"] * 0.75)
            in_memory = worker.worker.invoker.running()
        woke = await s.guard(asyncio.gather(*(h.result(timeout=RESULT_TIMEOUT) for h in handles)))
        elapsed = time.perf_counter() - t0
        cpu = meter.stop()
        records = await journal.scan(s.log)

    due, fired = {}, {}
    for r in records:
        if r.applied and r.fields["type"] == "TimerScheduled":
            due[r.fields["execution_id"]] = r.fields["due_at"]
        elif r.applied and r.fields["type"] == "TimerFired":
            fired[r.fields["execution_id"]] = r.fields["at"]
    ids = [h.execution_id for h in handles]
    if any(e not in due or e not in fired for e in ids):
        raise AssertionError("an execution has no applied TimerScheduled or TimerFired record")
    late = [(t - due[e] / 1000) * 1000 for e, t in zip(ids, woke)]
    fire = [float(fired[e] - due[e]) for e in ids]
    if min(late) < 0:
        raise AssertionError(f"a workflow woke {-min(late):.1f} ms before its timer was due")
    out = {
        "late_p50_ms": percentile(late, 50),
        "late_p99_ms": percentile(late, 99),
        "late_max_ms": max(late),
        "fired_p50_ms": percentile(fire, 50),
        "fired_p99_ms": percentile(fire, 99),
        "due_spread_ms": float(max(due[e] for e in ids) - min(due[e] for e in ids)),
        "elapsed_s": elapsed,
        "cpu_ms_per_wf": sum(cpu.values()) * 1000 / len(ids),
        **{f"cpu_ms_per_wf_{role}": s * 1000 / len(ids) for role, s in cpu.items()},
    }
    if in_memory is not None:
        out["tasks_in_memory_while_sleeping"] = float(in_memory)
    return out


def variants(args) -> list[dict]:
    return [{"workflows": args.w4_workflows, "sleep_s": 2.0}]


register(
    Workload(
        name="w4",
        summary="200 workflows each sleep 2 s durably; lateness of the step after the sleep",
        metrics=(
            Metric("late_p99_ms", "lateness past due, p99", "ms", "lower", {"embedded": 50, "kafka": 50}),
            Metric("late_p50_ms", "lateness past due, p50", "ms", "lower"),
            Metric("late_max_ms", "lateness past due, max", "ms", "lower"),
            Metric("fired_p50_ms", "TimerFired written minus due (early < 0), p50", "ms", "lower"),
            Metric("fired_p99_ms", "TimerFired written minus due (early < 0), p99", "ms", "lower"),
            Metric("due_spread_ms", "spread of the 200 due times", "ms"),
            Metric("tasks_in_memory_while_sleeping", "tasks in memory while sleeping (embedded)", "tasks", "lower"),
        ),
        run=run,
        warmup=True,
        variants=variants,
    )
)
