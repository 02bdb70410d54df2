"""``logloom history``: one execution's recorded transitions, decoded; ``history export``
writes history files (``engine.replay.history_file``) for many runs at once.

``logloom history ID`` is short for ``logloom history show ID``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..replay.export import export_history
from .common import add_log_options, command, engine, note
from .exits import Exit
from .listing import add_index_options, listing_engine
from .output import chosen, columns, line, to_text, when
from .workflow import READ_CODES, add_filter_options, run_filters

VERBS = ("show", "export")


def _shown(record) -> dict:
    """A record for people and scripts: payloads decoded, where it is on the log."""
    return {
        "partition": record.partition,
        "offset": record.offset,
        "type": record.type,
        "at": record.at,
        "schema_fingerprint": record.schema_fingerprint,
        "outcome": record.outcome,
        "fields": record.payloads_decoded(),
    }


def _row(record) -> list[str]:
    fields = {k: v for k, v in record.payloads_decoded().items() if k != "execution_id" and v is not None}
    note_ = "" if record.outcome == "applied" else f"   <- {record.outcome}"
    return [
        f"{record.partition}:{record.offset}",
        when(record.at),
        record.type,
        json.dumps(fields, default=str) + note_,
    ]


HEADER = ["AT OFFSET", "TIME", "TYPE", "FIELDS"]


async def cmd_show(args) -> int:
    if args.follow:
        return await _follow(args)
    async with engine(args, read_only=args.kafka is None) as (client, _):
        fmt = chosen(args)
        if fmt == "json":  # the history file: versioned, what `logloom replay run` reads
            history = await export_history(client, args.execution_id, with_children=args.with_children)
            print(history.dumps().decode(), end="")
            return Exit.OK
        records = await client.history(args.execution_id, session_id=args.session_id)
    if fmt == "jsonl":
        for record in records:
            print(line(_shown(record)))
    else:
        for text in columns([_row(r) for r in records], HEADER):
            print(text)
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


async def cmd_export(args) -> int:
    """One history file per run that matches the filters, named after its execution id."""
    directory = Path(args.directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    async with listing_engine(args) as client:
        for execution in await client.list_executions(**run_filters(args)):
            history = await export_history(client, execution.execution_id, with_children=args.with_children)
            path = directory / (execution.execution_id.replace("/", "%2F") + ".json")
            path.write_bytes(history.dumps())
            written.append({"execution_id": execution.execution_id, "status": execution.status, "file": str(path)})
    if chosen(args) == "table":
        for item in written:
            print(f"{item['file']}  {item['status']}")
        note(f"{len(written)} histories written to {directory}")
    else:
        print(to_text(written))
    return Exit.OK


def add_parsers(sub: argparse._SubParsersAction) -> None:
    history = command(
        sub,
        "history",
        "an execution's recorded transitions (history show), or history files of many runs (history export)",
        ["logloom history order-7", "logloom history order-7 --json > order-7.json",
         "logloom history export --workflow checkout --status failed --since 24h ./failed"],
        [Exit.OK, Exit.NOT_FOUND, Exit.USAGE, Exit.UNAVAILABLE, Exit.INTERRUPTED],
    )  # fmt: skip
    verbs = history.add_subparsers(dest="verb", required=True, metavar="VERB")
    show = command(
        verbs,
        "show",
        "every recorded transition of one execution, payloads decoded, with the fold's verdict; "
        "as JSON, the history file that `logloom replay run` reads",
        [
            "logloom history show order-7",
            "logloom history order-7 --follow",
            "logloom history order-7 --output json --with-children > order-7.json",
        ],
        [Exit.OK, Exit.NOT_FOUND, Exit.USAGE, Exit.UNAVAILABLE, Exit.INTERRUPTED],
    )
    show.add_argument("execution_id")
    show.add_argument("--session-id", metavar="ID")
    show.add_argument("-f", "--follow", action="store_true", help="go on printing records until the run ends")
    show.add_argument("--with-children", action="store_true", help="JSON: the child runs' histories too, down the tree")
    add_log_options(show)
    show.set_defaults(func=cmd_show)
    export = command(
        verbs,
        "export",
        "write a history file per run that matches, named <execution id>.json, for audit and `logloom replay run`",
        [
            "logloom history export --workflow checkout --status failed --since 24h ./failed",
            "logloom history export --parent order-7 --with-children ./order-7",
        ],
        READ_CODES,
    )
    export.add_argument("directory", metavar="DIR")
    add_filter_options(export)
    export.add_argument("--with-children", action="store_true", help="each file holds its child runs' histories")
    add_index_options(export)
    add_log_options(export)
    export.set_defaults(func=cmd_export)
