"""``logloom queue ...``: the queues' slots per concurrency key, and their limits."""

from __future__ import annotations

import argparse

from ..errors import NotFoundError
from .common import add_log_options, command, engine
from .exits import Exit
from .output import columns, emit


async def cmd_list(args) -> int:
    async with engine(args, read_only=args.kafka is None) as (client, _):
        keys = await client.list_queues(args.queue)
    rows = [[q.queue, q.key if q.key is not None else "-", str(q.limit), str(len(q.running)), str(len(q.waiting))]
            for q in keys]  # fmt: skip
    emit(args, [q.model_dump(mode="json") for q in keys],
         lambda _: columns(rows, ["QUEUE", "KEY", "LIMIT", "RUNNING", "QUEUED"]))  # fmt: skip
    return Exit.OK


async def cmd_get(args) -> int:
    async with engine(args, read_only=args.kafka is None) as (client, _):
        keys = await client.list_queues(args.queue)
    if not keys:
        raise NotFoundError(f"no run has used queue {args.queue!r} in namespace {client.log.namespace!r}")
    emit(args, [q.model_dump(mode="json") for q in keys], lambda _: [
        line for q in keys for line in (f"key {q.key if q.key is not None else '-'}: limit {q.limit}",
                                        f"  running {', '.join(q.running) or '-'}",
                                        f"  queued  {', '.join(q.waiting) or '-'}")])  # fmt: skip
    return Exit.OK


async def cmd_set_limit(args) -> int:
    async with engine(args) as (client, _):
        await client.set_queue_limit(args.queue, args.limit)
    emit(args, {"queue": args.queue, "limit": args.limit},
         lambda v: [f"queue {v['queue']}: at most {v['limit']} runs at once per key"])  # fmt: skip
    return Exit.OK


def add_parsers(sub: argparse._SubParsersAction) -> None:
    verbs = sub.add_parser(
        "queue", help="queues: running and queued runs per concurrency key; set a limit",
        description="Queues and concurrency keys (docs/flow-control.md).",
    ).add_subparsers(dest="verb", required=True, metavar="VERB")  # fmt: skip

    listing = command(verbs, "list", "each queue and concurrency key: its limit, runs running and queued",
                      ["logloom queue list", "logloom queue list --queue openai"],
                      [Exit.OK, Exit.UNAVAILABLE])  # fmt: skip
    listing.add_argument("--queue", metavar="NAME", help="one queue only")
    add_log_options(listing)
    listing.set_defaults(func=cmd_list)

    get = command(verbs, "get", "one queue: per key, the runs running and the runs queued, in order",
                  ["logloom queue get openai"], [Exit.OK, Exit.NOT_FOUND, Exit.UNAVAILABLE])  # fmt: skip
    get.add_argument("queue", metavar="NAME")
    add_log_options(get)
    get.set_defaults(func=cmd_get)

    limit = command(verbs, "set-limit", "change a queue's limit for every key, at once, without a restart",
                    ["logloom queue set-limit openai 10"], [Exit.OK, Exit.USAGE, Exit.UNAVAILABLE])  # fmt: skip
    limit.add_argument("queue", metavar="NAME")
    limit.add_argument("limit", type=int, metavar="N", help="runs at once per concurrency key (>= 1)")
    add_log_options(limit)
    limit.set_defaults(func=cmd_set_limit)
