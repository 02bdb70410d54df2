"""``logloom history``: every recorded transition of one execution, decoded."""

from __future__ import annotations

import argparse
import json

from .common import EXIT_OK, add_common_options, engine, print_json


async def cmd_history(args) -> int:
    async with engine(args, worker=False, read_only=args.kafka is None) as (client, _):
        records = await client.history(args.execution_id, session_id=args.session_id)
    if args.json:
        print_json([r.model_dump(mode="json") for r in records])
        return EXIT_OK
    for r in records:
        fields = {k: v for k, v in r.fields.items() if k not in ("execution_id",) and v is not None}
        note = "" if r.outcome == "applied" else f"   <- {r.outcome}"
        print(
            f"{r.offset:>8}  {r.at.isoformat(timespec='milliseconds')}  {r.type:<20} "
            f"{json.dumps(fields, default=str)}{note}"
        )
    return EXIT_OK


def add_parsers(sub: argparse._SubParsersAction) -> None:
    history = sub.add_parser("history", help="every recorded transition of one execution")
    history.add_argument("execution_id")
    history.add_argument("--session-id")
    history.add_argument("--json", action="store_true")
    add_common_options(history)
    history.set_defaults(func=cmd_history)
