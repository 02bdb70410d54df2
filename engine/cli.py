"""The ``logloom`` command. Parsing and printing only; the work is done by the engine.

Exit codes: 0 success · 1 the workflow failed · 2 bad usage or input · 3 not found ·
4 timed out.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import signal
import sys
from typing import Any

from .app import load_app, load_workflow
from .client import Client
from .config import EngineConfig, connect_log
from .errors import ExecutionNotFoundError, LogloomError, WorkflowFailedError
from .worker import Worker

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_TIMEOUT = 0, 1, 2, 3, 4


def _print(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def _config(args) -> EngineConfig:
    return EngineConfig.from_env(namespace=args.namespace, data_dir=args.data_dir,
                                 partitions=getattr(args, "partitions", None), kafka=args.kafka,
                                 instance_id=getattr(args, "instance_id", None))


@contextlib.asynccontextmanager
async def _engine(args, *, worker: bool, read_only: bool = False):
    config = _config(args)
    log = await connect_log(config, need_worker=worker, read_only=read_only)
    running = None
    try:
        if worker:
            cache = {name: getattr(args, name) for name in ("max_idle_runs", "evict_after_idle_s")
                     if getattr(args, name, None) is not None}
            running = await Worker(log, data_dir=config.data_dir, worker_id=getattr(args, "worker_id", None),
                                   **cache).start()
        async with Client(log) as client:
            yield client, running
    finally:
        if running is not None:
            await running.stop()
        await log.close()


async def cmd_run(args) -> int:
    wf = load_workflow(args.target)
    payload = json.loads(args.input)
    async with _engine(args, worker=True) as (client, _):
        handle = await wf.invoke(client, payload, execution_id=args.execution_id)
        print(f"execution {handle.execution_id}", file=sys.stderr)
        _print(await handle.result(timeout=args.timeout))
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
    async with _engine(args, worker=True) as (_, worker):
        _freeze_start_up_heap()
        print(f"worker {worker.worker_id} running (namespace {worker.log.namespace}); Ctrl-C stops it",
              file=sys.stderr)
        await stop.wait()
        print(f"worker {worker.worker_id} stopping", file=sys.stderr)
    return EXIT_OK


async def cmd_invoke(args) -> int:
    payload = json.loads(args.input)
    async with _engine(args, worker=False) as (client, _):
        handle = await client.invoke(args.workflow, payload, execution_id=args.execution_id,
                                     user_id=args.user_id, session_id=args.session_id,
                                     run_timeout_seconds=args.run_timeout)
        if not args.wait:
            _print({"execution_id": handle.execution_id})
            return EXIT_OK
        _print(await handle.result(timeout=args.timeout))
    return EXIT_OK


async def cmd_history(args) -> int:
    async with _engine(args, worker=False, read_only=args.kafka is None) as (client, _):
        records = await client.history(args.execution_id, session_id=args.session_id)
    if args.json:
        _print([r.model_dump(mode="json") for r in records])
        return EXIT_OK
    for r in records:
        fields = {k: v for k, v in r.fields.items() if k not in ("execution_id",) and v is not None}
        note = "" if r.outcome == "applied" else f"   <- {r.outcome}"
        print(f"{r.offset:>8}  {r.at.isoformat(timespec='milliseconds')}  {r.type:<20} "
              f"{json.dumps(fields, default=str)}{note}")
    return EXIT_OK


async def cmd_workflow_get(args) -> int:
    async with _engine(args, worker=False, read_only=args.kafka is None) as (client, _):
        execution = await client.get_execution(args.execution_id, session_id=args.session_id)
    _print(execution.model_dump(mode="json"))
    return EXIT_OK


async def cmd_publish(args) -> int:
    data = json.loads(args.data)
    async with _engine(args, worker=False) as (client, _):
        partition, offset = await client.publish_event(args.topic, data, key=args.key)
    _print({"topic": args.topic, "partition": partition, "offset": offset})
    return EXIT_OK


async def cmd_resume(args) -> int:
    data = json.loads(args.data)
    async with _engine(args, worker=False) as (client, _):
        await client.get_execution(args.execution_id, session_id=args.session_id)  # exists, or exit 3
        await client.resume(args.execution_id, args.name, data, session_id=args.session_id)
    _print({"resumed": args.execution_id, "name": args.name})
    return EXIT_OK


async def cmd_workflow_cancel(args) -> int:
    async with _engine(args, worker=False) as (client, _):
        await client.get_execution(args.execution_id, session_id=args.session_id)  # exists, or exit 3
        await client.cancel(args.execution_id, args.reason, session_id=args.session_id)
    _print({"cancel_requested": args.execution_id})
    return EXIT_OK


async def cmd_workflow_list(args) -> int:
    async with _engine(args, worker=False, read_only=args.kafka is None) as (client, _):
        executions = await client.list_executions(status=args.status)
    if args.json:
        _print([e.model_dump(mode="json") for e in executions])
        return EXIT_OK
    for e in executions:
        waits = ", ".join(f"{w['kind']}:{w['key']}" for w in e.waiting_for)
        print(f"{e.execution_id:<34} {e.workflow:<24} {e.status:<10} {waits}")
    return EXIT_OK


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kafka", metavar="HOST:PORT", help="use a Kafka cluster (default: the embedded log)")
    p.add_argument("--namespace", help="journal namespace (default logloom)")
    p.add_argument("--data-dir", help="local state directory (default ./.logloom)")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="logloom", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one workflow to completion with an in-process worker")
    run.add_argument("target", metavar="APP:WORKFLOW")
    run.add_argument("--input", default="null", help="JSON payload")
    run.add_argument("--execution-id", help="resume or deduplicate by this id")
    run.add_argument("--timeout", type=float, default=None)
    run.add_argument("--partitions", type=int)
    _common(run)
    run.set_defaults(func=cmd_run)

    worker = sub.add_parser("worker", help="run a long-lived worker")
    worker.add_argument("app", metavar="APP", help="module path or .py file whose workflows register on import")
    worker.add_argument("--partitions", type=int, help="partition count when the journal is created")
    worker.add_argument("--worker-id")
    worker.add_argument("--instance-id", help="Kafka static membership: a restarted worker with the same id "
                                              "takes its partitions back without waiting for the session timeout")
    worker.add_argument("--max-idle-runs", type=int, help="waiting runs kept in memory, so a wake needs no "
                                                          "replay (default 1000; 0 evicts at once)")
    worker.add_argument("--evict-after-idle-s", type=float, help="evict a waiting run idle this long (default 60)")
    _common(worker)
    worker.set_defaults(func=cmd_worker)

    invoke = sub.add_parser("invoke", help="start a workflow by name")
    invoke.add_argument("workflow")
    invoke.add_argument("--input", default="null", help="JSON payload")
    invoke.add_argument("--execution-id")
    invoke.add_argument("--user-id")
    invoke.add_argument("--session-id")
    invoke.add_argument("--wait", action="store_true", help="wait for the result and print it")
    invoke.add_argument("--run-timeout", type=float, help="cancel the execution if it runs longer (seconds)")
    invoke.add_argument("--timeout", type=float, default=None)
    _common(invoke)
    invoke.set_defaults(func=cmd_invoke)

    history = sub.add_parser("history", help="every recorded transition of one execution")
    history.add_argument("execution_id")
    history.add_argument("--session-id")
    history.add_argument("--json", action="store_true")
    _common(history)
    history.set_defaults(func=cmd_history)

    publish = sub.add_parser("publish", help="publish a JSON event on a domain topic")
    publish.add_argument("topic", help="topic, or topic/KEY")
    publish.add_argument("--data", default="null", help="JSON event data")
    publish.add_argument("--key")
    _common(publish)
    publish.set_defaults(func=cmd_publish)

    resume = sub.add_parser("resume", help="resume a suspended execution")
    resume.add_argument("execution_id")
    resume.add_argument("name", help="the suspension's name")
    resume.add_argument("--data", default="null", help="JSON payload the workflow receives")
    resume.add_argument("--session-id")
    _common(resume)
    resume.set_defaults(func=cmd_resume)

    wf = sub.add_parser("workflow", help="inspect executions").add_subparsers(dest="verb", required=True)
    listing = wf.add_parser("list", help="executions in the namespace")
    listing.add_argument("--status", choices=["pending", "running", "waiting", "completed", "failed", "cancelled"])
    listing.add_argument("--json", action="store_true")
    _common(listing)
    listing.set_defaults(func=cmd_workflow_list)
    cancel = wf.add_parser("cancel", help="cancel an execution at its next step or wait")
    cancel.add_argument("execution_id")
    cancel.add_argument("--reason", default="cancelled from the command line")
    cancel.add_argument("--session-id")
    _common(cancel)
    cancel.set_defaults(func=cmd_workflow_cancel)

    get = wf.add_parser("get", help="status, result and error of one execution")
    get.add_argument("execution_id")
    get.add_argument("--session-id")
    _common(get)
    get.set_defaults(func=cmd_workflow_get)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return asyncio.run(args.func(args))
    except WorkflowFailedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except ExecutionNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NOT_FOUND
    except TimeoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_TIMEOUT
    except (LogloomError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
