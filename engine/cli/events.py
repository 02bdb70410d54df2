"""``logloom publish``: a domain event, on its topic."""

from __future__ import annotations

import argparse
import json

from .common import EXIT_OK, add_common_options, engine, print_json


async def cmd_publish(args) -> int:
    data = json.loads(args.data)
    async with engine(args, worker=False) as (client, _):
        partition, offset = await client.publish_event(args.topic, data, key=args.key)
    print_json({"topic": args.topic, "partition": partition, "offset": offset})
    return EXIT_OK


def add_parsers(sub: argparse._SubParsersAction) -> None:
    publish = sub.add_parser("publish", help="publish a JSON event on a domain topic")
    publish.add_argument("topic", help="topic, or topic/KEY")
    publish.add_argument("--data", default="null", help="JSON event data")
    publish.add_argument("--key")
    add_common_options(publish)
    publish.set_defaults(func=cmd_publish)
