"""``logloom publish`` and ``logloom dead-letter``: domain events in, and the ones that could not be used."""

from __future__ import annotations

import argparse

from ..errors import NotFoundError
from .common import add_log_options, command, engine, json_argument
from .exits import Exit
from .output import columns, emit, when


async def cmd_publish(args) -> int:
    data = json_argument(args.data, "--data")
    async with engine(args, create=True) as (client, _):  # publishing may create the event topic
        partition, offset = await client.publish_event(args.topic, data, key=args.key)
    emit(args, {"topic": args.topic, "partition": partition, "offset": offset},
         lambda v: [f"published to {v['topic']} partition {v['partition']} at offset {v['offset']}"])  # fmt: skip
    return Exit.OK


async def cmd_dead_letter_list(args) -> int:
    async with engine(args, read_only=args.kafka is None) as (client, _):
        letters = await client.dead_letters()
    letters = letters[-args.limit :] if args.limit else letters
    rows = [[f"{d.partition}:{d.offset}", when(d.timestamp), f"{d.topic}[{d.event_partition}]@{d.event_offset}",
             d.reason] for d in letters]  # fmt: skip
    emit(args, [d.model_dump(mode="json") for d in letters],
         lambda _: columns(rows, ["AT OFFSET", "EVENT TIME", "EVENT", "REASON"]))  # fmt: skip
    return Exit.OK


async def cmd_dead_letter_show(args) -> int:
    partition, _, offset = args.at.rpartition(":")
    try:
        where = (int(partition or 0), int(offset))
    except ValueError:
        raise ValueError(f"expected PARTITION:OFFSET (or OFFSET) as listed, got {args.at!r}") from None
    async with engine(args, read_only=args.kafka is None) as (client, _):
        letters = {(d.partition, d.offset): d for d in await client.dead_letters()}
    if where not in letters:
        raise NotFoundError(f"no dead letter at {where[0]}:{where[1]}")
    letter = letters[where].model_dump(mode="json")
    emit(args, letter, lambda v: [f"{k:<16} {v[k]}" for k in v])
    return Exit.OK


def add_parsers(sub: argparse._SubParsersAction) -> None:
    publish = command(
        sub,
        "publish",
        "publish a JSON event on a domain topic",
        ['logloom publish orders/o-17 --data \'{"status": "paid"}\'', "logloom publish signups --data @user.json"],
        [Exit.OK, Exit.USAGE, Exit.UNAVAILABLE],
    )
    publish.add_argument("topic", help="topic, or topic/KEY")
    publish.add_argument("--data", default="null", metavar="JSON", help="the event: JSON, @FILE, or - for stdin")
    publish.add_argument("--key", metavar="KEY", help="the record key (or give it as topic/KEY)")
    add_log_options(publish)
    publish.set_defaults(func=cmd_publish)

    letters = sub.add_parser(
        "dead-letter", help="events that could not be used, and why", description="The dead-letter topic."
    ).add_subparsers(dest="verb", required=True, metavar="VERB")
    listing = command(
        letters,
        "list",
        "dead letters, oldest first",
        ["logloom dead-letter list --limit 20"],
        [Exit.OK, Exit.UNAVAILABLE],
    )
    listing.add_argument("--limit", type=int, metavar="N", help="the last N only")
    add_log_options(listing)
    listing.set_defaults(func=cmd_dead_letter_list)
    show = command(
        letters,
        "show",
        "one dead letter in full: the event's bytes and the reason",
        ["logloom dead-letter show 0:3"],
        [Exit.OK, Exit.NOT_FOUND, Exit.USAGE, Exit.UNAVAILABLE],
    )
    show.add_argument("at", metavar="PARTITION:OFFSET", help="as `dead-letter list` shows it")
    add_log_options(show)
    show.set_defaults(func=cmd_dead_letter_show)
