"""``logloom workflows`` and ``logloom partitions``: what the connected workers run, and
where each partition of the journal stands."""

from __future__ import annotations

import argparse

from .common import add_log_options, command, engine, note
from .exits import Exit
from .output import columns, emit, when


def _yes_no(value: bool | None) -> str:
    return "?" if value is None else "yes" if value else "no"


def _queue(declared: dict | None) -> str:
    return f"{declared['name']} ({declared['limit']})" if declared else "-"


async def cmd_workflows(args) -> int:
    async with engine(args) as (client, _):  # not read-only: a worker elsewhere says who is connected
        workers = await client.workers()
    shown = workers if args.all else [w for w in workers if w.connected is not False]
    by_name: dict[str, dict] = {}
    for worker in shown:
        for wf in worker.workflows:
            row = by_name.setdefault(wf.name, {"workflow": wf.name, "triggers": [], "queue": None, "workers": []})
            row["triggers"] = sorted(set(row["triggers"]) | set(wf.triggers))
            row["queue"] = row["queue"] or wf.queue
            row["workers"].append(worker.worker)
    listing = [by_name[name] for name in sorted(by_name)]
    if not shown:
        note("no worker is connected" + ("" if args.all else "; --all lists what workers that have left ran"))
    if args.by_worker:
        rows = [[w.worker, _yes_no(w.connected), when(w.started_at), ", ".join(wf.name for wf in w.workflows) or "-"]
                for w in shown]  # fmt: skip
        emit(args, [w.model_dump(mode="json") for w in shown],
             lambda _: columns(rows, ["WORKER", "CONNECTED", "STARTED", "WORKFLOWS"]))  # fmt: skip
        return Exit.OK
    rows = [[r["workflow"], ", ".join(r["triggers"]) or "-", _queue(r["queue"]), str(len(r["workers"]))]
            for r in listing]  # fmt: skip
    emit(args, listing, lambda _: columns(rows, ["WORKFLOW", "TRIGGERS", "QUEUE", "WORKERS"]))
    return Exit.OK


async def cmd_partitions(args) -> int:
    async with engine(args) as (client, _):
        partitions = await client.partitions()
    rows = [
        [
            str(p.partition),
            p.owner or "-",
            _yes_no(p.owner_connected) if p.owner else "-",
            str(p.epoch),
            when(p.claimed_at),
            str(p.end),
            "-" if p.folded is None else str(p.folded),
            "-" if p.lag is None else str(p.lag),
        ]
        for p in partitions
    ]
    header = ["PARTITION", "OWNER", "CONNECTED", "EPOCH", "CLAIMED", "END", "FOLDED", "LAG"]
    emit(args, [p.model_dump(mode="json") | {"lag": p.lag} for p in partitions], lambda _: columns(rows, header))
    return Exit.OK


def add_parsers(sub: argparse._SubParsersAction) -> None:
    workflows = command(
        sub,
        "workflows",
        "the workflows the connected workers run, and the topics that trigger them",
        ["logloom workflows", "logloom workflows --by-worker --all"],
        [Exit.OK, Exit.NOT_FOUND, Exit.UNAVAILABLE],
    )
    workflows.add_argument("--all", action="store_true", help="include workers that are no longer connected")
    workflows.add_argument("--by-worker", action="store_true", help="one row per worker instead of per workflow")
    add_log_options(workflows)
    workflows.set_defaults(func=cmd_workflows)

    partitions = command(
        sub,
        "partitions",
        "each journal partition's owner, epoch, end offset, and how far its owner has folded it",
        ["logloom partitions", "logloom partitions --kafka localhost:9092 --json"],
        [Exit.OK, Exit.NOT_FOUND, Exit.UNAVAILABLE],
    )
    partitions.description += (
        " FOLDED is the next offset the owner will fold, as it reported it (every 2 seconds);"
        " LAG is END - FOLDED, in records."
    )
    add_log_options(partitions)
    partitions.set_defaults(func=cmd_partitions)
