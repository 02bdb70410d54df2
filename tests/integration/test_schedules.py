"""Cron schedules on both logs (issue #18): one run per tick, the payload, the verbs, and
the overlap policies. Every-second cron specs (6 fields, seconds first) keep it quick.

The scheduled workflows live in a registry of their own: a decorator's schedule is
registered by every worker that runs it, and the other tests' workers must not."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from helpers import assert_eventually

from engine import (
    ScheduleError,
    ScheduleNotFoundError,
    SchedulePayload,
    UnknownWorkflowError,
    WorkflowContext,
    names,
    schedules,
)
from engine.client import Outcome
from engine.workflow.registry import Registry

reg = Registry()


@reg.workflow(cron="* * * * * *")
async def every_second(ctx: WorkflowContext, input: SchedulePayload) -> dict:
    return input.model_dump(mode="json")


@reg.workflow
async def reminder(ctx: WorkflowContext, input: SchedulePayload) -> str:
    return f"remind {input.key} at {input.timestamp.isoformat()}"


@reg.workflow
async def no_input(ctx: WorkflowContext) -> str:
    return "swept"


async def slow_step() -> str:
    await asyncio.sleep(2.2)
    return "done"


@reg.workflow
async def slow(ctx: WorkflowContext, input: SchedulePayload) -> str:
    await ctx.step.run("work", slow_step)
    return input.timestamp.isoformat()


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


async def runs_of(client, schedule_id: str) -> list:
    return [e for e in await client.list_executions() if names.scheduled_run_schedule(e.execution_id) == schedule_id]


async def test_a_decorator_schedule_starts_one_run_per_tick_with_the_tick_as_its_timestamp(harness):
    await harness.worker(registry=reg)
    client = await harness.client()
    schedule_id = names.schedule_id("every_second", "global")

    async def three_completed():
        done = [e for e in await runs_of(client, schedule_id) if e.status == "completed"]
        return done if len(done) >= 3 else None

    done = await assert_eventually(three_completed, timeout=30, message="3 ticks ran")
    ticks = sorted(datetime.fromisoformat(e.result["timestamp"]) for e in done)
    for execution in done:
        payload = SchedulePayload.model_validate(execution.result)
        assert execution.execution_id == names.tick_execution_id(schedule_id, ms(payload.timestamp))
        assert payload.timestamp.microsecond == 0, "a tick is the cron's instant, not when it fired"
        assert payload.schedule_id == schedule_id and payload.key == "global" and payload.timezone == "UTC"
        assert payload.upcoming is not None and payload.upcoming > payload.timestamp
        assert execution.started_at >= payload.timestamp
    assert len(set(ticks)) == len(ticks), "one run per tick"
    later = [t for t in ticks if t > ticks[0]]
    assert all(b - a == timedelta(seconds=1) for a, b in zip(ticks, ticks[1:])), f"every second once: {ticks}"
    assert later, ticks

    schedule = await schedules.get(client, schedule_id)
    assert schedule.source == "decorator" and schedule.cron == "* * * * * *" and not schedule.paused
    assert schedule.runs >= 3 and schedule.next_tick > schedule.last_tick


async def test_schedules_create_pause_resume_trigger_and_delete(harness):
    await harness.worker(registry=reg)
    client = await harness.client()
    created = await schedules.create(client, reminder, "* * * * * *", timezone="Europe/Paris", key="user-7")
    schedule_id = created.schedule_id
    assert schedule_id == "reminder/user-7" and created.timezone == "Europe/Paris" and created.source == "api"

    await assert_eventually(lambda: _count(client, schedule_id, 2), timeout=30, message="two runs")
    assert await schedules.pause(client, schedule_id) is Outcome.APPLIED
    assert await schedules.pause(client, schedule_id) is Outcome.ALREADY
    paused_runs = len(await runs_of(client, schedule_id))
    await asyncio.sleep(2.5)
    assert len(await runs_of(client, schedule_id)) <= paused_runs + 1, "at most a tick already in flight"
    quiet = len(await runs_of(client, schedule_id))
    await asyncio.sleep(1.5)
    assert len(await runs_of(client, schedule_id)) == quiet, "paused: no run starts"
    assert (await schedules.get(client, schedule_id)).paused

    handle = await schedules.trigger(client, schedule_id)  # runs while paused
    assert (await handle.result(timeout=30)).startswith("remind user-7 at ")

    assert await schedules.resume(client, schedule_id) is Outcome.APPLIED
    await assert_eventually(lambda: _count(client, schedule_id, quiet + 2), timeout=30, message="runs again")

    assert await schedules.delete(client, schedule_id) is Outcome.APPLIED
    with pytest.raises(ScheduleNotFoundError, match="reminder/user-7"):
        await schedules.get(client, schedule_id)
    with pytest.raises(ScheduleNotFoundError):
        await schedules.pause(client, schedule_id)
    gone = len(await runs_of(client, schedule_id))
    await asyncio.sleep(2)
    assert len(await runs_of(client, schedule_id)) <= gone + 1


async def _count(client, schedule_id: str, n: int) -> bool:
    return len([e for e in await runs_of(client, schedule_id) if e.status == "completed"]) >= n


async def test_a_backfill_runs_each_tick_once_also_when_repeated(harness):
    await harness.worker(registry=reg)
    client = await harness.client()
    schedule = await schedules.create(client, "no_input", "0 9 * * *", timezone="Europe/Paris", key="daily")
    start = datetime(2026, 3, 20, tzinfo=UTC)
    end = start + timedelta(days=10)  # 9:00 Paris on 10 days, across the switch to summer time
    first = await schedules.backfill(client, schedule.schedule_id, start, end)
    second = await schedules.backfill(client, schedule.schedule_id, start, end)
    assert first == second and len(first) == 10

    async def all_completed():
        runs = await runs_of(client, schedule.schedule_id)
        return runs if len(runs) >= 10 and all(r.status == "completed" for r in runs) else None

    runs = await assert_eventually(all_completed, timeout=60)
    assert sorted(r.execution_id for r in runs) == sorted(first), "10 runs, not 20"
    assert {r.result for r in runs} == {"swept"}, "a workflow that takes no input gets none"
    stamps = sorted(ms_str.rsplit("@tick-", 1)[1] for ms_str in first)
    assert stamps[0] == "20260320T080000Z" and stamps[-1] == "20260329T070000Z", "09:00 Paris, CET then CEST"


async def test_overlap_skip_starts_no_tick_while_a_run_is_open(harness):
    await harness.worker(registry=reg)
    client = await harness.client()
    schedule = await schedules.create(client, slow, "* * * * * *", key="skip")

    async def two_completed():
        runs = [r for r in await runs_of(client, schedule.schedule_id) if r.status == "completed"]
        return runs if len(runs) >= 2 else None

    runs = await assert_eventually(two_completed, timeout=40)
    await schedules.pause(client, schedule.schedule_id)
    everything = sorted(await runs_of(client, schedule.schedule_id), key=lambda r: r.created_at)
    for a, b in zip(everything, everything[1:]):
        assert a.completed_at is not None and b.created_at >= a.completed_at, "no two runs at once"
    assert (await schedules.get(client, schedule.schedule_id)).skipped >= 2
    assert len(runs) >= 2


async def test_overlap_buffer_one_runs_the_latest_tick_once_the_open_run_ends(harness):
    await harness.worker(registry=reg)
    client = await harness.client()
    schedule = await schedules.create(client, slow, "* * * * * *", key="buffer", overlap="buffer_one")

    async def three_completed():
        runs = [r for r in await runs_of(client, schedule.schedule_id) if r.status == "completed"]
        return runs if len(runs) >= 3 else None

    await assert_eventually(three_completed, timeout=40)
    await schedules.pause(client, schedule.schedule_id)
    everything = sorted(await runs_of(client, schedule.schedule_id), key=lambda r: r.created_at)
    for a, b in zip(everything, everything[1:]):
        assert a.completed_at is not None and b.created_at >= a.completed_at, "one at a time"
        gap = b.created_at - a.completed_at
        assert gap < timedelta(milliseconds=900), f"the buffered tick starts as the open run ends: {gap}"


async def test_bad_schedules_are_refused_at_the_call_and_schedule_nothing(harness):
    await harness.worker(registry=reg)
    client = await harness.client()
    with pytest.raises(ScheduleError, match="invalid cron expression 'every day'"):
        await schedules.create(client, reminder, "every day")
    with pytest.raises(ScheduleError, match="unknown time zone 'Mars/Olympus'"):
        await schedules.create(client, reminder, "0 9 * * *", timezone="Mars/Olympus")
    with pytest.raises(ScheduleError, match="unknown overlap policy"):
        await schedules.create(client, reminder, "0 9 * * *", overlap="sometimes")
    with pytest.raises(UnknownWorkflowError, match="no_such_workflow"):
        await schedules.create(client, "no_such_workflow", "0 9 * * *")
    assert [s.schedule_id for s in await schedules.list(client)] == ["every_second/global"]


async def test_a_client_with_a_store_reads_schedules_from_its_stores(harness, tmp_path):
    await harness.worker(registry=reg)
    client = await harness.client(store_dir=tmp_path / "client-stores")
    created = await schedules.create(client, reminder, "0 8 * * 1-5", timezone="America/New_York", key="store")
    assert created.next_tick is not None and created.next_tick.hour in (12, 13), "8:00 New York, as UTC"
    listed = [s.schedule_id for s in await schedules.list(client)]
    assert listed == ["every_second/global", "reminder/store"]
    handle = await schedules.trigger(client, created.schedule_id)
    assert (await handle.result(timeout=30)).startswith("remind store at ")
    assert (await schedules.get(client, created.schedule_id)).runs == 1
