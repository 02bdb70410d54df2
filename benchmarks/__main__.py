"""python -m benchmarks --log embedded|kafka|both --workloads w1,rebuild,w3,w4,mem [--reps 3] [--out FILE]

Runs each selected workload ``--reps`` times on each selected log (W1, W2 and W4 after
``--warmup-reps`` unreported ones), prints a table of median / min / max per metric,
writes them as JSON, and renders the W1 chart next to it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
import time
import traceback
from pathlib import Path

from . import charts, report
from .envs import open_env
from .procstat import jit_cpu_ms, reference_loop_ms
from .stats import summarize
from .workloads import WORKLOADS

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "latest.json"


def _count(text: str) -> int:
    """100000, 100k, 1M, 1_000_000."""
    text = text.strip().lower().replace("_", "")
    scale = {"k": 1_000, "m": 1_000_000}.get(text[-1:], 1)
    return int(float(text[:-1] if scale > 1 else text) * scale)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--log", choices=["embedded", "kafka", "both"], default="both")
    p.add_argument(
        "--workloads", default="w1,rebuild", help=f"comma-separated, from: {', '.join(WORKLOADS)} (default w1,rebuild)"
    )
    p.add_argument("--reps", type=int, default=3, help="repetitions of each workload (default 3)")
    p.add_argument(
        "--warmup-reps",
        type=int,
        default=1,
        help="unreported repetitions before the measured ones, for W1, W2 and W4 (default 1)",
    )
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results (the chart goes beside it)")
    p.add_argument(
        "--rebuild-records",
        default="100k",
        type=lambda s: [_count(x) for x in s.split(",")],
        help="journal sizes for REBUILD, e.g. 100k,1M (default 100k)",
    )
    p.add_argument("--w1-workflows", type=int, default=2000, help="W1 workflows at 64 in flight (default 2000)")
    p.add_argument("--w1-sequential", type=int, default=200, help="W1 workflows one at a time (default 200)")
    p.add_argument("--w3-workflows", type=int, default=500, help="W3 workflows (default 500)")
    p.add_argument("--w4-workflows", type=int, default=200, help="W4 workflows (default 200)")
    p.add_argument(
        "--queue-client",
        default="live,store",
        help="QUEUE: the client(s), comma-separated: live (the in-memory view) or store (its own stores)",
    )
    p.add_argument(
        "--replay-steps", default="10k", type=_count, help="REPLAY: steps of the run that is exported and replayed"
    )
    p.add_argument("--audit-runs", default="100k", type=_count, help="AUDIT: runs on the log that is listed")
    p.add_argument(
        "--faults-workers", default="1,2,3", type=lambda s: [int(x) for x in s.split(",")],
        help="FAULTS: worker counts, comma-separated (default 1,2,3)",
    )  # fmt: skip
    p.add_argument("--faults-seconds", type=float, default=60.0, help="FAULTS: how long the load runs (default 60)")
    p.add_argument("--faults-kill-every-s", type=float, default=10.0, help="FAULTS: a kill -9 this often (default 10)")
    p.add_argument(
        "--faults-restart-after-s", type=float, default=3.0, help="FAULTS: restart a killed worker after (default 3)"
    )
    p.add_argument("--sched-seconds", type=int, default=40, help="SCHED: how long the every-second schedule runs")
    p.add_argument("--mem-executions", default="10k", type=_count, help="MEM executions parked at once (default 10k)")
    p.add_argument(
        "--mem-client",
        default="store",
        help="MEM's client: store (its own RocksDB stores), live (in-memory live view), or both as store,live",
    )
    p.add_argument(
        "--soak-runs", default="1M", type=_count, help="SOAK runs through one worker and client (default 1M)"
    )
    p.add_argument(
        "--soak-client", default="live", help="SOAK's client: live (default), store (its own stores), or store,live"
    )
    p.add_argument("--partitions", type=int, help="journal partitions for every workload (default 4 embedded, 8 Kafka)")
    p.add_argument(
        "--broker-warmup-s",
        type=float,
        help="Kafka: run W1 and W2 unreported for up to this many seconds before measuring, "
        "until the broker's JIT goes quiet (default 120 for a broker the harness starts, "
        "0 for $LOGLOOM_KAFKA_BOOTSTRAP)",
    )
    p.add_argument(
        "--profile",
        choices=["pyinstrument", "cprofile"],
        help="instead of benchmarking: profile one W1 repetition on the embedded log",
    )
    return p


def run_rep(env, workload, params: dict) -> dict[str, float]:
    gc.collect()
    return asyncio.run(workload.run(env, params))  # a fresh event loop per repetition


def run_workload(env, workload, params: dict, reps: int, warmup_reps: int = 0) -> dict:
    row = {"log": env.kind, "workload": workload.name, "params": params, "reps": reps, "env": env.info}
    values = []
    row["loadavg_1m_after_each_rep"] = []  # other load on the machine skews results: keep it visible
    row["reference_loop_ms_before_each_rep"] = []  # and so does a slower machine (procstat.reference_loop_ms)
    broker = env.pids.get("broker")
    if broker:
        row["broker_jit_cpu_ms_each_rep"] = []  # the broker's JIT compiling inside a repetition
    try:
        if workload.warmup and warmup_reps:
            # Unreported, like JMH's warm-up iterations: a broker's JIT, the page cache and
            # the first topic's metadata are warm before the first measured repetition.
            row["warmup_reps"] = warmup_reps
            for rep in range(1, warmup_reps + 1):
                t0 = time.monotonic()
                run_rep(env, workload, params)
                print(
                    f"  {env.kind} {workload.name} warm-up {rep}/{warmup_reps} ({time.monotonic() - t0:.0f} s)",
                    file=sys.stderr,
                    flush=True,
                )
        for rep in range(1, reps + 1):
            row["reference_loop_ms_before_each_rep"].append(round(reference_loop_ms(), 2))
            t0 = time.monotonic()
            jit0 = jit_cpu_ms(broker) if broker else 0.0
            metrics = run_rep(env, workload, params)
            values.append(metrics)
            if broker:
                row["broker_jit_cpu_ms_each_rep"].append(round(jit_cpu_ms(broker) - jit0))
            row["loadavg_1m_after_each_rep"].append(round(os.getloadavg()[0], 2))
            headline = workload.metrics[0]
            print(
                f"  {env.kind} {workload.name} rep {rep}/{reps}: {headline.key}="
                f"{metrics[headline.key]:,.1f} {headline.unit} ({time.monotonic() - t0:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    except Exception as exc:
        traceback.print_exc()
        row["error"] = f"{type(exc).__name__}: {exc}"
        row["completed_reps"] = len(values)
    row["metrics"] = summarize(values) if values else {}
    report.annotate_targets(row)
    return row


# A round of broker warm-up whose JIT compiling stays under this share of one core ends it.
JIT_QUIET_SHARE = 0.02


def warm_broker(env, seconds: float, args) -> dict:
    """Unreported W1 and W2 rounds until the broker's JIT compiler threads go quiet.

    A new JVM compiles its hot paths for minutes: 16 s of compiler CPU in the first four
    minutes of one broker here, and 20-160 ms inside a 200-workflow W2 burst. A broker in
    production has run for days. So before the first measured repetition, the harness
    runs rounds of W1 and W2 until one round's compiling is under ``JIT_QUIET_SHARE`` of
    a core, or ``seconds`` have passed. What it took goes into the JSON.
    """
    broker = env.pids.get("broker")
    rounds, start = [], time.monotonic()
    while broker and time.monotonic() - start < seconds:
        t0, jit0 = time.monotonic(), jit_cpu_ms(broker)
        for name in ("w1", "w2"):
            for params in WORKLOADS[name].variants(args):
                run_rep(env, WORKLOADS[name], params)
        wall, jit = time.monotonic() - t0, jit_cpu_ms(broker) - jit0
        rounds.append({"seconds": round(wall, 1), "jit_cpu_ms": round(jit)})
        print(
            f"  broker warm-up round {len(rounds)}: {wall:.0f} s, JIT compiling {jit:.0f} ms",
            file=sys.stderr,
            flush=True,
        )
        if jit < JIT_QUIET_SHARE * wall * 1000:
            break
    return {"budget_s": seconds, "seconds": round(time.monotonic() - start, 1), "rounds": rounds}


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.profile:
        from .profiling import profile_w1

        return profile_w1(args)
    names = [n.strip() for n in args.workloads.split(",") if n.strip()]
    unknown = [n for n in names if n not in WORKLOADS]
    if unknown:
        parser().error(f"unknown workloads {unknown}; known: {sorted(WORKLOADS)}")
    if args.reps < 1:
        parser().error("--reps must be at least 1")
    kinds = ["embedded", "kafka"] if args.log == "both" else [args.log]
    doc = {
        "machine": report.machine_info(),
        "config": {"reps": args.reps, "logs": kinds, "workloads": names},
        "results": [],
    }
    rows = doc["results"]
    for kind in kinds:
        try:
            env = open_env(kind)
        except Exception as exc:
            traceback.print_exc()
            rows.extend(
                {"log": kind, "workload": n, "params": {}, "reps": 0, "error": f"cannot open {kind}: {exc}"}
                for n in names
            )
            continue
        if args.partitions:
            env.partitions = args.partitions
            env.info["partitions"] = args.partitions
        warmup_s = args.broker_warmup_s
        if warmup_s is None:
            warmup_s = 120.0 if getattr(env, "broker", None) is not None else 0.0
        if kind == "kafka" and warmup_s > 0:
            print(f"{kind} / broker warm-up (up to {warmup_s:.0f} s)", file=sys.stderr, flush=True)
            try:
                doc["broker_warmup"] = warm_broker(env, warmup_s, args)
            except Exception as exc:  # measured anyway; the JSON says the warm-up failed
                traceback.print_exc()
                doc["broker_warmup"] = {"budget_s": warmup_s, "error": f"{type(exc).__name__}: {exc}"}
        try:
            for name in names:
                workload = WORKLOADS[name]
                if kind not in workload.logs:
                    continue
                for params in workload.variants(args):
                    print(f"{kind} / {name} {params}", file=sys.stderr, flush=True)
                    rows.append(run_workload(env, workload, params, args.reps, args.warmup_reps))
        finally:
            env.close()
    doc["machine"]["loadavg_at_end"] = os.getloadavg()
    report.print_table(rows)
    report.write_json(args.out, doc)
    print(f"results: {args.out}")
    for chart in (
        report.chart_w1(rows, args.out.parent / "w1.png"),
        charts.chart_memory(rows, args.out.with_name(args.out.stem + "-memory.png")),
    ):
        if chart:
            print(f"chart:   {chart}")
    return 1 if any("error" in r for r in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
