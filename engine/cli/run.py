"""``logloom run`` and ``logloom worker``: the commands that host a worker in this process."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import signal

from ..runtime.health import MAX_LAG_RECORDS, HealthEndpoints
from ..workflow.loading import load_app, load_workflow
from ..workflow.registry import registry
from .common import add_drain_option, add_log_options, command, engine, json_argument, note, warn
from .exits import Exit
from .output import emit


def _env_int(name: str) -> int | None:
    return int(os.environ[name]) if os.environ.get(name) else None


async def cmd_run(args) -> int:
    wf = load_workflow(args.target)
    payload = json_argument(args.input, "--input")
    async with engine(args, worker=True) as (client, _):
        handle = await wf.invoke(client, payload, execution_id=args.execution_id)
        note(f"execution {handle.execution_id}")
        args.on_interrupt = (
            f"interrupted: execution {handle.execution_id} keeps its recorded steps; run "
            f"`logloom run {args.target} --execution-id {handle.execution_id}` (same flags) to resume it"
        )
        emit(args, await handle.result(timeout=args.timeout))
    return Exit.OK


def _freeze_start_up_heap() -> None:
    """Keep what start-up built (modules, schemas, the app) out of the collector's way.

    A worker process lives long, and the objects it has once started live as long as
    it does. Without this, every full collection walks all of them: during a burst of
    wakes that was a 15-25 ms stall of the event loop (Kafka W2). After ``gc.freeze()``
    full collections walk only what was made since.
    """
    gc.collect()
    gc.freeze()


async def cmd_worker(args) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # a graceful stop: drain, commit, leave the group
        loop.add_signal_handler(sig, stop.set)
    workflows = load_app(args.app)
    if not workflows:
        warn(f"{args.app} registers no workflows (decorate an async def with @workflow); this worker runs none")
    tracing, metrics = _observers(args)
    interceptors = tuple(i for i in (tracing, metrics) if i is not None)
    async with engine(args, worker=True, interceptors=interceptors) as (_, worker):
        _freeze_start_up_heap()
        health = None
        if args.health_port is not None:
            health = await HealthEndpoints(
                worker, args.health_port, max_lag_records=args.ready_max_lag, metrics=metrics
            ).start()
        triggers = [f"{t.label} -> {wf.name}" for wf in registry.workflows.values() for t in wf.triggers]
        note(
            f"worker {worker.worker_id} running on {_where(args, worker)}; workflows: {', '.join(workflows) or '-'}"
            + (f"; triggers: {', '.join(triggers)}" if triggers else "")
            + (f"; health on port {health.port} (/metrics too)" if health else "")
            + ("; tracing on (OTEL_*)" if tracing else "")
            + "; Ctrl-C or SIGTERM stops it"
        )
        try:
            await _first(stop.wait(), worker.faulted.wait())
            if health is not None:
                health.draining()
            if worker.fault is not None:
                warn(f"worker {worker.worker_id} stops on a fault: {worker.fault}; its partitions go to the others")
                return Exit.FAULT
            note(f"worker {worker.worker_id} stopping: steps in flight finish and are recorded first")
            left = await worker.drain(args.drain_timeout)
            if left:
                warn(f"{left} run(s) still had a step in flight after {args.drain_timeout:g} s; they go on elsewhere")
        finally:
            if health is not None:
                await health.stop()
    if tracing is not None:
        await asyncio.to_thread(tracing.shutdown)  # export the spans still queued
    return Exit.OK


def _observers(args) -> tuple:
    """Tracing when ``--otel`` or the ``OTEL_*`` variables ask for it (``observability.setup``);
    metrics when the health port is on (``runtime.metrics``)."""
    tracing = None
    if args.otel or any(name.startswith("OTEL_") for name in os.environ):
        from ..observability.setup import tracing_from_env

        tracing = tracing_from_env(args.otel)  # OtelMissingError: a usage error
    metrics = None
    if args.health_port is not None:
        from ..runtime.metrics import WorkerMetrics

        metrics = WorkerMetrics()
    return tracing, metrics


async def _first(*waits) -> None:
    """Wait until the first of ``waits`` is done; cancel the others."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()


def _where(args, worker) -> str:
    log = worker.log
    place = f"Kafka at {args.kafka}" if args.kafka else f"the embedded log in {log.path.parent.parent}"
    return f"{place}, namespace {log.namespace}"


def add_parsers(sub: argparse._SubParsersAction) -> None:
    run = command(
        sub,
        "run",
        "run one workflow to completion with a worker in this process",
        [
            'logloom run examples/orders.py:process_order --input \'{"order_id": "o1", "amount": 5}\'',
            "logloom run app.py:report --input @payload.json --execution-id report-2026-11",
        ],
        [Exit.OK, Exit.FAILED, Exit.USAGE, Exit.TIMEOUT, Exit.CONFLICT, Exit.UNAVAILABLE, Exit.INTERRUPTED],
    )
    run.add_argument("target", metavar="APP:WORKFLOW", help="a module path or .py file, and a workflow's name")
    run.add_argument("--input", default="null", metavar="JSON", help="the payload: JSON, @FILE, or - for stdin")
    run.add_argument("--execution-id", metavar="ID", help="resume or deduplicate by this id")
    run.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="give up waiting after this long")
    run.add_argument("--partitions", type=int, metavar="N", help="partition count when the journal is created")
    add_log_options(run)
    run.set_defaults(func=cmd_run)

    worker = command(
        sub,
        "worker",
        "run a long-lived worker: it owns partitions and runs their workflows",
        [
            "logloom worker examples/orders.py",
            "logloom worker myapp.workflows --kafka 127.0.0.1:9092 --data-dir /var/lib/logloom",
            "logloom worker myapp.workflows --kafka kafka:9092 --instance-id $POD_NAME --health-port 8081",
        ],
        [Exit.OK, Exit.USAGE, Exit.UNAVAILABLE, Exit.FAULT],
    )
    worker.add_argument("app", metavar="APP", help="module path or .py file whose workflows register on import")
    worker.add_argument("--partitions", type=int, metavar="N", help="partition count when the journal is created")
    worker.add_argument("--worker-id", metavar="ID", help="this worker's name in claims and logs")
    worker.add_argument(
        "--instance-id",
        metavar="ID",
        help="Kafka static membership: a restarted worker with the same id "
        "takes its partitions back without waiting for the session timeout",
    )
    worker.add_argument(
        "--max-idle-runs",
        type=int,
        metavar="N",
        help="waiting runs kept in memory, so a wake needs no replay (default 1000; 0 evicts at once)",
    )
    worker.add_argument(
        "--evict-after-idle-s", type=float, metavar="SECONDS", help="evict a waiting run idle this long (default 60)"
    )
    worker.add_argument(
        "--max-runs-in-memory",
        type=int,
        metavar="N",
        help="runs in memory at once, idle or not; more wait their turn to start (default 5000)",
    )
    worker.add_argument(
        "--max-deferred-in-memory",
        type=int,
        metavar="N",
        help="ids of runs waiting their turn kept in memory; more wait on disk (default 10000)",
    )
    worker.add_argument(
        "--malloc-arenas",
        type=int,
        metavar="N",
        help="cap glibc's malloc arenas, and give its free memory back every few seconds "
        "(default 2; 0 leaves malloc alone)",
    )
    worker.add_argument(
        "--store-cache-mb",
        type=int,
        metavar="MB",
        help="RocksDB block cache shared by all this worker's stores; caps their memtables too "
        "(default 64, or $LOGLOOM_STORE_CACHE_MB)",
    )
    worker.add_argument(
        "--store-write-buffer-mb",
        type=int,
        metavar="MB",
        help="memtables of all this worker's stores, charged to the cache "
        "(default 32, or $LOGLOOM_STORE_WRITE_BUFFER_MB)",
    )
    worker.add_argument(
        "--status-file",
        metavar="PATH",
        help="write the worker's status (partitions, runs in memory, RocksDB memory) here as JSON every 2 s",
    )
    add_drain_option(worker)
    worker.add_argument(
        "--health-port",
        type=int,
        default=_env_int("LOGLOOM_HEALTH_PORT"),
        metavar="PORT",
        help="serve /livez, /readyz, /status and /metrics (Prometheus) on this port "
        "(default: none, or $LOGLOOM_HEALTH_PORT)",
    )
    worker.add_argument(
        "--ready-max-lag",
        type=int,
        default=MAX_LAG_RECORDS,
        metavar="RECORDS",
        help=f"/readyz: ready while no owned partition lags more records than this (default {MAX_LAG_RECORDS})",
    )
    worker.add_argument(
        "--otel",
        action="store_true",
        help="export OpenTelemetry spans, configured by the standard OTEL_* variables (needs the otel extra); "
        "without it, tracing is on when an OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_TRACES_EXPORTER asks for it",
    )
    add_log_options(worker, output=False)
    worker.set_defaults(func=cmd_worker)
