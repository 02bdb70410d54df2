"""``logloom workflow ...``: start, execute, inspect, list, cancel, terminate and resume runs.

``invoke`` (``--wait``: ``execute``) and ``resume`` stay as top-level aliases.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from datetime import UTC, datetime, timedelta

from ..client import CommandResult, ExecutionHandle, Outcome
from ..fold.rows import Status
from .common import add_log_options, command, engine, json_argument, note, warn
from .exits import FOR_OUTCOME, Exit
from .listing import add_index_options, listing_engine
from .output import columns, emit, when
from .render import describe, describe_lines, progress, resume_command

NO_WORKER_AFTER_S = 3.0  # execute: warn if the run has not started by then
PROGRESS_CATCH_UP_S = 2.0  # execute: the result came; let the progress print the run's end
STATUSES = [s.value for s in Status]

# -- start and execute ------------------------------------------------------------------------


async def _start(args, client):
    payload = json_argument(args.input, "--input")
    handle = await client.invoke(
        args.workflow,
        payload,
        execution_id=args.execution_id,
        user_id=args.user_id,
        session_id=args.session_id,
        run_timeout_seconds=args.run_timeout,
    )
    workers = await client.log.workers()
    if workers == 0:
        warn(
            f"no worker serves this log (namespace {client.log.namespace}): execution {handle.execution_id} "
            f"waits until one starts (logloom worker APP, with the same --kafka/--namespace/--data-dir)"
        )
    return handle


async def cmd_start(args) -> int:
    async with engine(args) as (client, _):
        handle = await _start(args, client)
    emit(args, {"execution_id": handle.execution_id}, lambda v: [f"started {v['execution_id']}"])
    return Exit.OK


async def cmd_execute(args) -> int:
    async with engine(args) as (client, _):
        handle = await _start(args, client)
        args.on_interrupt = (
            f"interrupted: execution {handle.execution_id} goes on on the workers; "
            f"`logloom workflow result {handle.execution_id}` waits for it again"
        )
        watcher = asyncio.create_task(_show_progress(args, client, handle.execution_id))
        try:
            result = await handle.result(timeout=args.timeout)
            await asyncio.wait([watcher], timeout=PROGRESS_CATCH_UP_S)  # its last lines, before the result
        finally:
            watcher.cancel()
            await asyncio.gather(watcher, return_exceptions=True)
    emit(args, result)
    return Exit.OK


async def _show_progress(args, client, execution_id: str) -> None:
    """Print the run's steps, retries and waits to stderr as they are recorded; warn if no
    worker has started it after a few seconds."""
    started = asyncio.Event()

    async def warn_if_unstarted() -> None:
        await asyncio.sleep(NO_WORKER_AFTER_S)
        if not started.is_set():
            warn(f"execution {execution_id} has not started after {NO_WORKER_AFTER_S:g} s: is a worker running?")

    timer = asyncio.create_task(warn_if_unstarted())
    try:
        async for record in client.follow(execution_id, until_ended=True):
            if record.type != "InvocationRequested":
                started.set()
            text = progress(args, record, execution_id)
            if text and not args.quiet:
                note(text)
    finally:
        timer.cancel()


# -- what a run is doing ---------------------------------------------------------------------


async def cmd_get(args) -> int:
    async with engine(args, read_only=args.kafka is None) as (client, _):
        execution = await client.get_execution(args.execution_id, session_id=args.session_id)
    emit(args, execution.model_dump(mode="json"), lambda v: [f"{k:<20} {v[k]}" for k in v])
    return Exit.OK


async def cmd_describe(args) -> int:
    async with engine(args, read_only=args.kafka is None) as (client, _):
        execution = await client.get_execution(args.execution_id, session_id=args.session_id)
        history = await client.history(args.execution_id, session_id=execution.session_id, include_claims=False)
    emit(args, describe(args, execution, history), describe_lines)
    return Exit.OK


async def cmd_result(args) -> int:
    async with engine(args) as (client, _):
        execution = await client.get_execution(args.execution_id, session_id=args.session_id)
        handle = _handle(client, execution)
        args.on_interrupt = f"interrupted: execution {execution.execution_id} goes on on the workers"
        emit(args, await handle.result(timeout=args.timeout))
    return Exit.OK


def _handle(client, execution):
    routing_key = execution.routing_key
    return ExecutionHandle(client, execution.execution_id, routing_key, fresh=False)


# -- many runs ---------------------------------------------------------------------------------


def _since(text: str | None) -> datetime | None:
    """An ISO time, or a duration back from now: ``30m``, ``24h``, ``7d``."""
    if text is None:
        return None
    found = re.fullmatch(r"(\d+(?:\.\d+)?)([smhd])", text)
    if found:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[found.group(2)]
        return datetime.now(UTC) - timedelta(**{unit: float(found.group(1))})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a time or a duration like 24h: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run_filters(args) -> dict:
    """The ``list_executions`` filters of ``add_filter_options``."""
    return {
        "status": args.status,
        "workflow": args.workflow,
        "since": _since(args.since),
        "until": _since(args.until),
        "session_id": args.session_id,
        "user_id": args.user_id,
        "parent_id": args.parent,
    }


async def cmd_list(args) -> int:
    async with listing_engine(args) as client:
        executions = await client.list_executions(
            **run_filters(args),
            after=args.page_token,
            limit=None if args.limit is None else args.limit + 1,
            newest_first=args.newest_first,
        )
    page = executions[: args.limit] if args.limit else executions
    if len(executions) > len(page):
        note(f"more: --page-token {page[-1].execution_id}")
    rows = [e.model_dump(mode="json") for e in page]
    emit(args, rows, lambda _: _list_table(page))
    return Exit.OK


def _list_table(executions) -> list[str]:
    rows = [
        [
            e.execution_id,
            e.workflow,
            e.status,
            when(e.created_at),
            when(e.completed_at),
            ", ".join(f"{w['kind']}:{w['key']}" for w in e.waiting_for),
        ]  # fmt: skip
        for e in executions
    ]
    return list(columns(rows, ["EXECUTION", "WORKFLOW", "STATUS", "CREATED", "ENDED", "WAITING FOR"]))


async def cmd_count(args) -> int:
    async with listing_engine(args) as client:
        executions = await client.list_executions(**run_filters(args))
    by_status = {status: sum(e.status == status for e in executions) for status in STATUSES}
    counts = {"total": len(executions), "by_status": {k: v for k, v in by_status.items() if v}}
    emit(args, counts, lambda v: [f"{k:<10} {n}" for k, n in [("total", v["total"]), *v["by_status"].items()]])
    return Exit.OK


# -- commands to a run -------------------------------------------------------------------------


def _answer(args, result: CommandResult, shown: dict) -> int:
    emit(args, {**shown, "outcome": result.outcome.value, "message": result.message},
         lambda v: [f"{v['outcome']}: {v['message']}"])  # fmt: skip
    return FOR_OUTCOME[result.outcome]


async def cmd_rerun(args) -> int:
    async with engine(args) as (client, _):
        handle = await client.rerun(args.execution_id, args.from_step, new_execution_id=args.new_execution_id)
        note(f"execution {handle.execution_id} reruns {args.execution_id} from step {args.from_step!r}")
        if not args.wait:
            emit(args, {"execution_id": handle.execution_id}, lambda v: [f"started {v['execution_id']}"])
            return Exit.OK
        args.on_interrupt = f"interrupted: execution {handle.execution_id} goes on on the workers"
        emit(args, await handle.result(timeout=args.timeout))
    return Exit.OK


async def cmd_cancel(args) -> int:
    async with engine(args) as (client, _):
        result = await client.cancel(args.execution_id, args.reason, session_id=args.session_id)
    return _answer(args, result, {"execution_id": args.execution_id})


async def cmd_terminate(args) -> int:
    async with engine(args) as (client, _):
        result = await client.terminate(args.execution_id, args.reason, session_id=args.session_id)
    return _answer(args, result, {"execution_id": args.execution_id})


async def cmd_resume(args) -> int:
    data = json_argument(args.data, "--data")
    async with engine(args) as (client, _):
        result = await client.resume(args.execution_id, args.name, data, session_id=args.session_id)
    if result.outcome is Outcome.BUFFERED:
        open_waits = [w["key"] for w in result.execution.waiting_for if w["kind"] == "suspend"]
        elsewhere = f"; it waits at {', '.join(map(repr, open_waits))} now" if open_waits else ""
        warn(
            f"execution {args.execution_id} has no open wait named {args.name!r}{elsewhere}: the resume is kept "
            f"until one opens (a misspelt name never will)"
        )
        for key in open_waits:
            note(f"  {resume_command(args, args.execution_id, key, result.execution.session_id)}")
    return _answer(args, result, {"execution_id": args.execution_id, "name": args.name})


# -- parsers ---------------------------------------------------------------------------------


def _invocation_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("workflow", help="the workflow's registered name")
    p.add_argument("--input", default="null", metavar="JSON", help="the payload: JSON, @FILE, or - for stdin")
    p.add_argument(
        "--execution-id",
        metavar="ID",
        help="the run's id; the same id with the same workflow and input returns that run, another is a conflict",
    )
    p.add_argument("--user-id", metavar="ID")
    p.add_argument("--session-id", metavar="ID", help="run in this session (shares its state and partition)")
    p.add_argument("--run-timeout", type=float, metavar="SECONDS", help="cancel the run if it runs longer")


def _waiting_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--timeout", type=float, default=None, metavar="SECONDS", help="give up waiting after this long")


def add_filter_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--status", choices=STATUSES)
    p.add_argument("--workflow", metavar="NAME")
    p.add_argument("--since", metavar="TIME", help="created at or after: ISO time, or back from now (30m, 24h, 7d)")
    p.add_argument("--until", metavar="TIME", help="created before: ISO time, or back from now")
    p.add_argument("--session-id", metavar="ID")
    p.add_argument("--user-id", metavar="ID")
    p.add_argument("--parent", metavar="ID", help="children of this execution")


RUN_CODES = [Exit.OK, Exit.FAILED, Exit.USAGE, Exit.NOT_FOUND, Exit.TIMEOUT, Exit.CONFLICT, Exit.UNAVAILABLE,
             Exit.INTERRUPTED]  # fmt: skip
ANSWER_CODES = [Exit.OK, Exit.ALREADY, Exit.ENDED, Exit.NOT_FOUND, Exit.USAGE, Exit.UNAVAILABLE]
READ_CODES = [Exit.OK, Exit.USAGE, Exit.NOT_FOUND, Exit.UNAVAILABLE]


def add_invoke_parser(sub: argparse._SubParsersAction) -> None:
    invoke = command(
        sub,
        "invoke",
        "start a workflow by name (an alias of `workflow start`; with --wait, of `workflow execute`)",
        ['logloom invoke process_order --input \'{"order_id": "o9", "amount": 5}\' --wait'],
        RUN_CODES,
    )
    _invocation_options(invoke)
    invoke.add_argument("--wait", action="store_true", help="wait for the result, show progress, print the result")
    _waiting_options(invoke)
    add_log_options(invoke)
    invoke.set_defaults(func=lambda args: cmd_execute(args) if args.wait else cmd_start(args))


def _resume_parser(sub, name: str, help_: str) -> None:
    resume = command(
        sub,
        name,
        help_,
        [
            "logloom resume order-7 approval --data '{\"approved\": true}'",
            "logloom resume order-7 approval --data @a.json",
        ],
        [Exit.OK, Exit.BUFFERED, Exit.ALREADY, Exit.ENDED, Exit.NOT_FOUND, Exit.USAGE, Exit.UNAVAILABLE],
    )
    resume.add_argument("execution_id")
    resume.add_argument("name", help="the wait's name: the suspension, or wait_for_user:N")
    resume.add_argument("--data", default="null", metavar="JSON", help="what the workflow receives: JSON, @FILE, or -")
    resume.add_argument("--session-id", metavar="ID")
    add_log_options(resume)
    resume.set_defaults(func=cmd_resume)


def add_resume_parser(sub: argparse._SubParsersAction) -> None:
    _resume_parser(sub, "resume", "resume a run's suspension (an alias of `workflow resume`)")


def add_workflow_parser(sub: argparse._SubParsersAction) -> None:
    wf = sub.add_parser(
        "workflow", help="start, inspect, list, cancel and resume executions", description="Executions of workflows."
    ).add_subparsers(dest="verb", required=True, metavar="VERB")

    start = command(wf, "start", "start a run and return its id at once", ["logloom workflow start report"], RUN_CODES)
    _invocation_options(start)
    add_log_options(start)
    start.set_defaults(func=cmd_start)

    execute = command(
        wf,
        "execute",
        "start a run, show its steps, retries and waits as they happen, and print its result",
        ["logloom workflow execute process_order --input @order.json --timeout 60"],
        RUN_CODES,
    )
    _invocation_options(execute)
    _waiting_options(execute)
    add_log_options(execute)
    execute.set_defaults(func=cmd_execute)

    get = command(wf, "get", "status, result and error of one execution", ["logloom workflow get order-7"], READ_CODES)
    get.add_argument("execution_id")
    get.add_argument("--session-id", metavar="ID")
    add_log_options(get)
    get.set_defaults(func=cmd_get)

    desc = command(
        wf,
        "describe",
        "what a run is doing: its pending step, waits (and how to end them), children, last failure with traceback",
        ["logloom workflow describe order-7"],
        READ_CODES,
    )
    desc.add_argument("execution_id")
    desc.add_argument("--session-id", metavar="ID")
    add_log_options(desc)
    desc.set_defaults(func=cmd_describe)

    result = command(
        wf,
        "result",
        "wait for an existing run's result",
        ["logloom workflow result order-7 --timeout 30"],
        [Exit.OK, Exit.FAILED, Exit.NOT_FOUND, Exit.TIMEOUT, Exit.UNAVAILABLE, Exit.INTERRUPTED],
    )
    result.add_argument("execution_id")
    result.add_argument("--session-id", metavar="ID")
    _waiting_options(result)
    add_log_options(result)
    result.set_defaults(func=cmd_result)

    listing = command(
        wf,
        "list",
        "executions, oldest first (or --newest-first), with filters and pages",
        [
            "logloom workflow list --status waiting",
            "logloom workflow list --workflow report --since 24h --limit 20",
            "logloom workflow list --status failed --newest-first --limit 10",
        ],
        READ_CODES,
    )
    add_filter_options(listing)
    listing.add_argument("--limit", type=int, metavar="N", help="at most N executions (the rest: --page-token)")
    listing.add_argument("--page-token", metavar="ID", help="the executions after this one (printed when --limit cut)")
    listing.add_argument("--newest-first", action="store_true", help="the most recently created first")
    add_index_options(listing)
    add_log_options(listing)
    listing.set_defaults(func=cmd_list)

    count = command(wf, "count", "how many executions, by status", ["logloom workflow count --since 1h"], READ_CODES)
    add_filter_options(count)
    add_index_options(count)
    add_log_options(count)
    count.set_defaults(func=cmd_count)

    for name, help_, func, default in (
        ("cancel", "cancel a run at its next step or wait (cooperative)", cmd_cancel,
         "cancelled from the command line"),
        ("terminate", "stop a run now, without waiting for its step in flight", cmd_terminate,
         "terminated from the command line"),
    ):  # fmt: skip
        p = command(wf, name, help_, [f"logloom workflow {name} order-7 --reason 'customer asked'"], ANSWER_CODES)
        p.add_argument("execution_id")
        p.add_argument("--reason", default=default, help="recorded with the run's end")
        p.add_argument("--session-id", metavar="ID")
        add_log_options(p)
        p.set_defaults(func=func)

    _resume_parser(wf, "resume", "resume a run's suspension with a payload")

    rerun = command(
        wf,
        "rerun",
        "start a new run of an old run's workflow and input, from one of its steps: the steps before it "
        "return their recorded results and do not run again",
        ["logloom workflow rerun order-7 --from-step charge --wait"],
        RUN_CODES,
    )
    rerun.add_argument("execution_id", help="the run to rerun")
    rerun.add_argument("--from-step", required=True, metavar="KEY", help="the step key the code runs again from")
    rerun.add_argument("--execution-id", dest="new_execution_id", metavar="ID", help="the new run's id")
    rerun.add_argument("--wait", action="store_true", help="wait for the new run's result, and print it")
    _waiting_options(rerun)
    add_log_options(rerun)
    rerun.set_defaults(func=cmd_rerun)
