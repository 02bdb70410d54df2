"""``logloom run`` and ``logloom worker``: commands that host a worker in this process."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import signal
import sys

from ..workflow.loading import load_app, load_workflow
from .common import EXIT_OK, add_common_options, engine, print_json


async def cmd_run(args) -> int:
    wf = load_workflow(args.target)
    payload = json.loads(args.input)
    async with engine(args, worker=True) as (client, _):
        handle = await wf.invoke(client, payload, execution_id=args.execution_id)
        print(f"execution {handle.execution_id}", file=sys.stderr)
        print_json(await handle.result(timeout=args.timeout))
    return EXIT_OK


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
    load_app(args.app)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # leave the group cleanly: partitions move at once
        loop.add_signal_handler(sig, stop.set)
    async with engine(args, worker=True) as (_, worker):
        _freeze_start_up_heap()
        print(f"worker {worker.worker_id} running (namespace {worker.log.namespace}); Ctrl-C stops it", file=sys.stderr)
        await stop.wait()
        print(f"worker {worker.worker_id} stopping", file=sys.stderr)
    return EXIT_OK


def add_parsers(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run one workflow to completion with an in-process worker")
    run.add_argument("target", metavar="APP:WORKFLOW")
    run.add_argument("--input", default="null", help="JSON payload")
    run.add_argument("--execution-id", help="resume or deduplicate by this id")
    run.add_argument("--timeout", type=float, default=None)
    run.add_argument("--partitions", type=int)
    add_common_options(run)
    run.set_defaults(func=cmd_run)

    worker = sub.add_parser("worker", help="run a long-lived worker")
    worker.add_argument("app", metavar="APP", help="module path or .py file whose workflows register on import")
    worker.add_argument("--partitions", type=int, help="partition count when the journal is created")
    worker.add_argument("--worker-id")
    worker.add_argument(
        "--instance-id",
        help="Kafka static membership: a restarted worker with the same id "
        "takes its partitions back without waiting for the session timeout",
    )
    worker.add_argument(
        "--max-idle-runs",
        type=int,
        help="waiting runs kept in memory, so a wake needs no replay (default 1000; 0 evicts at once)",
    )
    worker.add_argument("--evict-after-idle-s", type=float, help="evict a waiting run idle this long (default 60)")
    add_common_options(worker)
    worker.set_defaults(func=cmd_worker)
