"""Cron schedules (docs/flow-control.md): one run per tick, the tick in its payload.

``logloom worker examples/schedules.py`` runs heartbeat every 2 s and daily_report at 9:00
in Paris (``logloom schedule list`` shows them); ``python examples/schedules.py`` runs a
worker in this process and uses the schedule verbs from Python.
"""

import asyncio
import sys
import tempfile
from datetime import UTC, datetime

from engine import Client, EmbeddedLog, SchedulePayload, Worker, WorkflowContext, schedules, workflow


@workflow(cron="*/2 * * * * *")  # AGNT5 style: every 2 seconds (6 fields: seconds first)
async def heartbeat(ctx: WorkflowContext) -> str:
    return "alive"


async def build_report(day: str) -> str:
    return f"report for {day}"


@workflow(schedule={"cron": "0 9 * * *", "timezone": "Europe/Paris"})  # Polos style
async def daily_report(ctx: WorkflowContext, input: SchedulePayload) -> str:
    # input.timestamp is the tick (9:00 Paris, as UTC), not the moment the run started
    return await ctx.step.run("build", build_report, input.timestamp.date().isoformat())


@workflow
async def reminder(ctx: WorkflowContext, input: SchedulePayload) -> str:
    return f"remind {input.key}: tick {input.timestamp:%H:%M:%S}"


async def main(data_dir: str) -> None:
    async with EmbeddedLog(data_dir) as log, Worker(log, data_dir=data_dir), Client(log) as client:
        # At run time: one schedule per (workflow, key), here every second for user-7.
        await schedules.create(client, reminder, "* * * * * *", timezone="America/New_York", key="user-7")
        await asyncio.sleep(2.5)
        await schedules.pause(client, "reminder/user-7")
        runs = [e for e in await client.list_executions(status="completed") if e.workflow == "reminder"]
        print(f"reminder ran {len(runs)} times, once per tick:", runs[0].result)

        # Each day's 9:00 tick from Nov 1 to 3 runs once, however often the backfill is asked for.
        start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 3, 23, 59, tzinfo=UTC)
        ids = await schedules.backfill(client, "daily_report/global", start, end)
        assert ids == await schedules.backfill(client, "daily_report/global", start, end)
        handles = [await client.handle(i) for i in ids]
        print([await h.result(timeout=30) for h in handles])
        for s in await schedules.list(client):
            print(s.schedule_id, repr(s.cron), s.timezone, "paused" if s.paused else f"next {s.next_tick:%H:%M:%S}")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()))
