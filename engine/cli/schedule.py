"""``logloom schedule ...``: cron schedules at run time (``engine.schedules``).

``list``, ``get``, ``create`` (an upsert on workflow and key), ``pause``, ``resume``,
``delete``, ``trigger`` (one run now) and ``backfill`` (each tick of a range once).
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

from ..client import Schedule, schedules
from .common import add_log_options, command, engine
from .exits import FOR_OUTCOME, Exit
from .output import columns, emit, when

_CHANGED = {"pause": "paused", "resume": "resumed", "delete": "deleted"}


def _lines(schedule: dict) -> list[str]:
    return [f"{field:<14} {value}" for field, value in schedule.items()]


def _row(s: Schedule) -> list[str]:
    state = "paused" if s.paused else "active"
    return [s.schedule_id, s.cron, s.timezone, state, when(s.next_tick), when(s.last_run_tick), str(s.runs),
            str(len(s.open_runs))]  # fmt: skip


async def cmd_list(args) -> int:
    async with engine(args, read_only=args.kafka is None) as (client, _):
        found = await schedules.list(client)
    header = ["SCHEDULE", "CRON", "ZONE", "STATE", "NEXT TICK", "LAST RUN TICK", "RUNS", "OPEN"]
    emit(args, [s.model_dump(mode="json") for s in found], lambda _: columns([_row(s) for s in found], header))
    return Exit.OK


async def cmd_get(args) -> int:
    async with engine(args, read_only=args.kafka is None) as (client, _):
        found = await schedules.get(client, args.schedule_id)
    emit(args, found.model_dump(mode="json"), _lines)
    return Exit.OK


async def cmd_create(args) -> int:
    async with engine(args) as (client, _):
        created = await schedules.create(
            client,
            args.workflow,
            args.cron,
            timezone=args.timezone,
            key=args.key,
            overlap=args.overlap,
            catch_up_s=args.catch_up,
        )
    emit(args, created.model_dump(mode="json"), _lines)
    return Exit.OK


async def cmd_change(args) -> int:
    verb = {"pause": schedules.pause, "resume": schedules.resume, "delete": schedules.delete}[args.verb]
    async with engine(args) as (client, _):
        outcome = await verb(client, args.schedule_id)
    message = f"{_CHANGED[args.verb]} {args.schedule_id}" if outcome.value == "applied" else (
        f"nothing to do: {args.schedule_id} is already {'paused' if args.verb == 'pause' else 'active'}")  # fmt: skip
    emit(args, {"schedule_id": args.schedule_id, "outcome": outcome.value}, lambda _: [message])
    return FOR_OUTCOME[outcome]


async def cmd_trigger(args) -> int:
    async with engine(args) as (client, _):
        handle = await schedules.trigger(client, args.schedule_id)
    emit(args, {"execution_id": handle.execution_id}, lambda v: [f"started {v['execution_id']}"])
    return Exit.OK


async def cmd_backfill(args) -> int:
    start, end = _instant(args.start, "--start"), _instant(args.end, "--end")
    async with engine(args) as (client, _):
        ids = await schedules.backfill(client, args.schedule_id, start, end)
    emit(args, {"schedule_id": args.schedule_id, "runs": ids},
         lambda v: [f"{len(ids)} ticks; a tick that already had its run started nothing", *ids])  # fmt: skip
    return Exit.OK


def _instant(text: str, what: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what}: expected an ISO 8601 time such as 2026-11-01T00:00Z, got {text!r}") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    verbs = sub.add_parser(
        "schedule", help="cron schedules: list, create, pause, resume, delete, trigger, backfill",
        description="Cron schedules (docs/flow-control.md).",
    ).add_subparsers(dest="verb", required=True, metavar="VERB")  # fmt: skip

    listing = command(verbs, "list", "every schedule, with its next tick", ["logloom schedule list"],
                      [Exit.OK, Exit.UNAVAILABLE])  # fmt: skip
    add_log_options(listing)
    listing.set_defaults(func=cmd_list)

    get = command(verbs, "get", "one schedule in full", ["logloom schedule get daily_report/global"],
                  [Exit.OK, Exit.NOT_FOUND, Exit.UNAVAILABLE])  # fmt: skip
    get.add_argument("schedule_id", metavar="SCHEDULE", help="WORKFLOW/KEY, as `schedule list` shows it")
    add_log_options(get)
    get.set_defaults(func=cmd_get)

    create = command(
        verbs,
        "create",
        "create a schedule, or change it (one per workflow and key)",
        ['logloom schedule create reminder "0 8 * * 1-5" --timezone America/New_York --key user-7'],
        [Exit.OK, Exit.USAGE, Exit.UNAVAILABLE],
    )
    create.add_argument("workflow", help="a workflow some worker runs")
    create.add_argument("cron", help="5 fields, or 6 with seconds first")
    create.add_argument("--timezone", default="UTC", metavar="ZONE", help="IANA time zone (default UTC)")
    create.add_argument("--key", default="global", help="which schedule of the workflow (default global)")
    create.add_argument("--overlap", default="skip", choices=["skip", "buffer_one", "allow_all"],
                        help="a tick while the previous run is open (default skip)")  # fmt: skip
    create.add_argument("--catch-up", type=int, default=0, metavar="SECONDS",
                        help="after an outage, run missed ticks this recent (default 0: the latest only)")  # fmt: skip
    add_log_options(create)
    create.set_defaults(func=cmd_create)

    for verb, help_ in (("pause", "start no run until resumed"),
                        ("resume", "start runs again from the next tick (missed ticks do not run)"),
                        ("delete", "delete a schedule; its open runs go on")):  # fmt: skip
        changing = command(verbs, verb, help_, [f"logloom schedule {verb} daily_report/global"],
                           [Exit.OK, Exit.ALREADY, Exit.NOT_FOUND, Exit.UNAVAILABLE] if verb != "delete"
                           else [Exit.OK, Exit.NOT_FOUND, Exit.UNAVAILABLE])  # fmt: skip
        changing.add_argument("schedule_id", metavar="SCHEDULE", help="WORKFLOW/KEY")
        add_log_options(changing)
        changing.set_defaults(func=cmd_change)

    trigger = command(verbs, "trigger", "start one run now, paused or not",
                      ["logloom schedule trigger daily_report/global"],
                      [Exit.OK, Exit.NOT_FOUND, Exit.UNAVAILABLE])  # fmt: skip
    trigger.add_argument("schedule_id", metavar="SCHEDULE", help="WORKFLOW/KEY")
    add_log_options(trigger)
    trigger.set_defaults(func=cmd_trigger)

    backfill = command(
        verbs,
        "backfill",
        "run each tick of a time range once (ticks that ran start nothing)",
        ["logloom schedule backfill daily_report/global --start 2026-11-01T00:00Z --end 2026-11-08T00:00Z"],
        [Exit.OK, Exit.NOT_FOUND, Exit.USAGE, Exit.UNAVAILABLE],
    )
    backfill.add_argument("schedule_id", metavar="SCHEDULE", help="WORKFLOW/KEY")
    backfill.add_argument("--start", required=True, metavar="TIME", help="ISO 8601, UTC unless it has a zone")
    backfill.add_argument("--end", required=True, metavar="TIME", help="ISO 8601, inclusive")
    add_log_options(backfill)
    backfill.set_defaults(func=cmd_backfill)
