"""``logloom session get``: a session's shared state (``ctx.session.state``)."""

from __future__ import annotations

import argparse
import json

from .common import add_log_options, command, engine
from .exits import Exit
from .output import emit


async def cmd_session_get(args) -> int:
    async with engine(args, read_only=args.kafka is None) as (client, _):
        state = await client.get_session_state(args.session_id)
    emit(args, state, lambda v: [f"{k:<20} {json.dumps(v[k])}" for k in v] or ["(no state yet)"])
    return Exit.OK


def add_parsers(sub: argparse._SubParsersAction) -> None:
    session = sub.add_parser(
        "session", help="state shared by a session's runs", description="Sessions."
    ).add_subparsers(dest="verb", required=True, metavar="VERB")
    get = command(
        session, "get", "a session's state, key by key", ["logloom session get chat-42"], [Exit.OK, Exit.UNAVAILABLE]
    )
    get.add_argument("session_id")
    add_log_options(get)
    get.set_defaults(func=cmd_session_get)
