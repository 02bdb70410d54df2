"""``logloom history``: every recorded transition of one execution, with its payloads decoded."""

from __future__ import annotations

import argparse
import json

from .common import add_log_options, command, engine
from .exits import Exit
from .output import chosen, columns, emit, line, when


def _shown(record) -> dict:
    """A record for people and scripts: payloads decoded, where it is on the log."""
    return {
        "partition": record.partition,
        "offset": record.offset,
        "type": record.type,
        "at": record.at,
        "fields": record.payloads_decoded(),
        "outcome": record.outcome,
    }


def _row(record) -> list[str]:
    fields = {k: v for k, v in record.payloads_decoded().items() if k != "execution_id" and v is not None}
    note = "" if record.outcome == "applied" else f"   <- {record.outcome}"
    return [f"{record.partition}:{record.offset}", when(record.at), record.type, json.dumps(fields, default=str) + note]


HEADER = ["AT OFFSET", "TIME", "TYPE", "FIELDS"]


async def cmd_history(args) -> int:
    if args.follow:
        return await _follow(args)
    async with engine(args, read_only=args.kafka is None) as (client, _):
        records = await client.history(args.execution_id, session_id=args.session_id)
    emit(args, [_shown(r) for r in records], lambda _: columns([_row(r) for r in records], HEADER))
    return Exit.OK


async def _follow(args) -> int:
    """Records as they are folded, until the execution ends: a table line or a JSON line each."""
    fmt = chosen(args)
    async with engine(args) as (client, _):
        async for record in client.follow(args.execution_id, session_id=args.session_id, include_claims=True):
            if fmt == "table":
                print("  ".join(_row(record)), flush=True)
            else:
                print(line(_shown(record)), flush=True)
    return Exit.OK


def add_parsers(sub: argparse._SubParsersAction) -> None:
    history = command(
        sub,
        "history",
        "every recorded transition of one execution, payloads decoded, with the fold's verdict",
        ["logloom history order-7", "logloom history order-7 --follow", "logloom history order-7 --output json"],
        [Exit.OK, Exit.NOT_FOUND, Exit.USAGE, Exit.UNAVAILABLE, Exit.INTERRUPTED],
    )
    history.add_argument("execution_id")
    history.add_argument("--session-id", metavar="ID")
    history.add_argument("-f", "--follow", action="store_true", help="go on printing records until the run ends")
    add_log_options(history)
    history.set_defaults(func=cmd_history)
