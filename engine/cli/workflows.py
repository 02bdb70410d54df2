"""``logloom invoke``, ``resume`` and ``workflow list|get|cancel``: executions, through the client."""

from __future__ import annotations

import argparse
import json

from .common import EXIT_OK, add_common_options, engine, print_json


async def cmd_invoke(args) -> int:
    payload = json.loads(args.input)
    async with engine(args, worker=False) as (client, _):
        handle = await client.invoke(
            args.workflow,
            payload,
            execution_id=args.execution_id,
            user_id=args.user_id,
            session_id=args.session_id,
            run_timeout_seconds=args.run_timeout,
        )
        if not args.wait:
            print_json({"execution_id": handle.execution_id})
            return EXIT_OK
        print_json(await handle.result(timeout=args.timeout))
    return EXIT_OK


async def cmd_resume(args) -> int:
    data = json.loads(args.data)
    async with engine(args, worker=False) as (client, _):
        await client.get_execution(args.execution_id, session_id=args.session_id)  # exists, or exit 3
        await client.resume(args.execution_id, args.name, data, session_id=args.session_id)
    print_json({"resumed": args.execution_id, "name": args.name})
    return EXIT_OK


async def cmd_workflow_list(args) -> int:
    async with engine(args, worker=False, read_only=args.kafka is None) as (client, _):
        executions = await client.list_executions(status=args.status)
    if args.json:
        print_json([e.model_dump(mode="json") for e in executions])
        return EXIT_OK
    for e in executions:
        waits = ", ".join(f"{w['kind']}:{w['key']}" for w in e.waiting_for)
        print(f"{e.execution_id:<34} {e.workflow:<24} {e.status:<10} {waits}")
    return EXIT_OK


async def cmd_workflow_cancel(args) -> int:
    async with engine(args, worker=False) as (client, _):
        await client.get_execution(args.execution_id, session_id=args.session_id)  # exists, or exit 3
        await client.cancel(args.execution_id, args.reason, session_id=args.session_id)
    print_json({"cancel_requested": args.execution_id})
    return EXIT_OK


async def cmd_workflow_get(args) -> int:
    async with engine(args, worker=False, read_only=args.kafka is None) as (client, _):
        execution = await client.get_execution(args.execution_id, session_id=args.session_id)
    print_json(execution.model_dump(mode="json"))
    return EXIT_OK


def add_invoke_parser(sub: argparse._SubParsersAction) -> None:
    invoke = sub.add_parser("invoke", help="start a workflow by name")
    invoke.add_argument("workflow")
    invoke.add_argument("--input", default="null", help="JSON payload")
    invoke.add_argument("--execution-id")
    invoke.add_argument("--user-id")
    invoke.add_argument("--session-id")
    invoke.add_argument("--wait", action="store_true", help="wait for the result and print it")
    invoke.add_argument("--run-timeout", type=float, help="cancel the execution if it runs longer (seconds)")
    invoke.add_argument("--timeout", type=float, default=None)
    add_common_options(invoke)
    invoke.set_defaults(func=cmd_invoke)


def add_resume_parser(sub: argparse._SubParsersAction) -> None:
    resume = sub.add_parser("resume", help="resume a suspended execution")
    resume.add_argument("execution_id")
    resume.add_argument("name", help="the suspension's name")
    resume.add_argument("--data", default="null", help="JSON payload the workflow receives")
    resume.add_argument("--session-id")
    add_common_options(resume)
    resume.set_defaults(func=cmd_resume)


def add_workflow_parser(sub: argparse._SubParsersAction) -> None:
    wf = sub.add_parser("workflow", help="inspect executions").add_subparsers(dest="verb", required=True)
    listing = wf.add_parser("list", help="executions in the namespace")
    listing.add_argument("--status", choices=["pending", "running", "waiting", "completed", "failed", "cancelled"])
    listing.add_argument("--json", action="store_true")
    add_common_options(listing)
    listing.set_defaults(func=cmd_workflow_list)
    cancel = wf.add_parser("cancel", help="cancel an execution at its next step or wait")
    cancel.add_argument("execution_id")
    cancel.add_argument("--reason", default="cancelled from the command line")
    cancel.add_argument("--session-id")
    add_common_options(cancel)
    cancel.set_defaults(func=cmd_workflow_cancel)

    get = wf.add_parser("get", help="status, result and error of one execution")
    get.add_argument("execution_id")
    get.add_argument("--session-id")
    add_common_options(get)
    get.set_defaults(func=cmd_workflow_get)
