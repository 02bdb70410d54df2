"""``python -m benchmarks.instructions``: CPU instructions per workflow, counted by callgrind.

Wall-clock figures on a shared 2-core VM swing by 10-20% between runs of the same code, so
a change of a few percent on the step path cannot be seen in them. Instruction counts can:
``valgrind --tool=callgrind`` counts every instruction the process executes, and repeats
to within a fraction of a percent. For a scenario and a workflow count N, it runs the
scenario twice under callgrind, with ``--base`` workflows and with ``--base`` + N, and
reports (instructions of the second - instructions of the first) / N: start-up and
imports cancel out.

Scenarios, on the embedded log with worker and client in one process:

* ``w1``: W1's workflow of three steps, 64 in flight (``bench_w1``);
* ``w1-traced``: ``w1`` with tracing on (``engine.observability.Tracing``), its spans
  exported in batches to an exporter that drops them: what building them costs;
* ``w1-metrics``: ``w1`` with the worker's Prometheus counters on (``runtime.metrics``,
  as ``logloom worker --health-port`` installs them);
* ``wake``: each run waits for an event on its own key, the worker keeps no idle run in
  memory (``max_idle_runs=0``), then one event per run wakes it (``bench_w2``): a wait,
  an eviction, a delivery across partitions and a replay per workflow.

Compare two commits by running this in each checkout (``--out`` a JSON file per side).
Needs valgrind (Debian package ``valgrind``); under it a run is 30-50 times slower.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTLE_S = 3.0  # wake: every wait registered and every run evicted before the events (sleeping costs nothing)


async def _w1(count: int) -> None:
    from .envs import EmbeddedEnv
    from .workloads import WORKLOADS

    params = {"workflows": count, "concurrency": 64, "sequential": 0, "warmup": 0, "steps": 3}
    await WORKLOADS["w1"].run(EmbeddedEnv(), params)


async def _w1_traced(count: int) -> None:
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    from engine.observability import Tracing

    from .envs import EmbeddedEnv
    from .workloads import WORKLOADS

    class Dropped(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    tracing = Tracing(span_processor=BatchSpanProcessor(Dropped()))
    params = {"workflows": count, "concurrency": 64, "sequential": 0, "warmup": 0, "steps": 3}
    await WORKLOADS["w1"].run(EmbeddedEnv(interceptors=(tracing,)), params)
    tracing.shutdown()


async def _w1_metrics(count: int) -> None:
    from engine.runtime.metrics import WorkerMetrics

    from .envs import EmbeddedEnv
    from .workloads import WORKLOADS

    params = {"workflows": count, "concurrency": 64, "sequential": 0, "warmup": 0, "steps": 3}
    await WORKLOADS["w1"].run(EmbeddedEnv(interceptors=(WorkerMetrics(),)), params)


async def _wake(count: int) -> None:
    from engine import Client, EmbeddedLog, Worker

    from .apps import bench_w2

    data_dir = tempfile.mkdtemp(prefix="logloom-instructions-")
    namespace = f"ins{uuid.uuid4().hex[:6]}"
    topic = f"{namespace}.events"
    try:
        async with (
            EmbeddedLog(data_dir, namespace, 4) as log,
            Worker(log, data_dir=data_dir, max_idle_runs=0),
            Client(log) as client,
        ):
            handles = [await bench_w2.invoke(client, {"topic": topic, "key": f"k{i}"}) for i in range(count)]
            await asyncio.sleep(SETTLE_S)
            for i in range(count):
                await client.publish_event(f"{topic}/k{i}", {"i": i})
            for handle in handles:
                await handle.result(timeout=600)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


SCENARIOS = {"w1": _w1, "w1-traced": _w1_traced, "w1-metrics": _w1_metrics, "wake": _wake}


def count_instructions(scenario: str, workflows: int) -> int:
    """Instructions of one run of ``scenario`` with ``workflows`` workflows, under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        done = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", sys.executable, "-m",
             "benchmarks.instructions", "--inside", scenario, str(workflows)],
            cwd=ROOT, capture_output=True, text=True,
        )  # fmt: skip
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind run of {scenario} ({workflows}) failed:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.instructions", description=__doc__.splitlines()[0])
    p.add_argument(
        "--scenarios",
        default="w1,wake",
        help="comma-separated, from: w1, w1-traced, w1-metrics, wake (default w1,wake)",
    )
    p.add_argument("--workflows", type=int, default=1000, help="N: workflows counted (default 1000)")
    p.add_argument("--base", type=int, default=10, help="workflows of the run subtracted (default 10)")
    p.add_argument("--out", type=Path, help="also write the figures as JSON")
    p.add_argument("--inside", nargs=2, metavar=("SCENARIO", "WORKFLOWS"), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.inside:  # the process callgrind runs
        asyncio.run(SCENARIOS[args.inside[0]](int(args.inside[1])))
        return 0
    if shutil.which("valgrind") is None:
        print("error: valgrind is not installed (apt-get install valgrind)", file=sys.stderr)
        return 2
    results = {}
    for scenario in args.scenarios.split(","):
        if scenario not in SCENARIOS:
            p.error(f"unknown scenario {scenario!r}; choose from {', '.join(SCENARIOS)}")
        base = count_instructions(scenario, args.base)
        full = count_instructions(scenario, args.base + args.workflows)
        results[scenario] = {
            "workflows": args.workflows,
            "base_workflows": args.base,
            "instructions_base": base,
            "instructions_full": full,
            "instructions_per_workflow": (full - base) / args.workflows,
        }
        print(f"{scenario:10} {(full - base) / args.workflows:>12,.0f} instructions per workflow "
              f"(({full:,} - {base:,}) / {args.workflows})")  # fmt: skip
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
