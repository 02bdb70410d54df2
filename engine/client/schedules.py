"""Cron schedules at run time: ``schedules.create(client, workflow, cron, ...)`` and the
verbs around it (``docs/flow-control.md``).

Each verb appends one command to the schedule's partition and answers with what the fold
made of that record (``fold/schedules.py``), as the other commands do (``outcomes.py``).
The writer computes the ticks (the fold reads no time zone data): ``create`` and
``resume`` send the next tick, ``backfill`` the ticks of its range.

    from engine import schedules
    await schedules.create(client, reminder, cron="0 8 * * 1-5", timezone="America/New_York", key=user_id)
"""

from __future__ import annotations

import builtins
import uuid
from datetime import datetime

from .. import names
from ..clock import now_ms
from ..errors import ScheduleError, ScheduleNotFoundError, UnknownWorkflowError
from ..fold import EffectKind
from ..wire import records
from ..workflow.registry import Workflow
from ..workflow.schedule_spec import DEFAULT_KEY, ScheduleSpec
from .models import ExecutionHandle, Schedule
from .outcomes import Outcome

MAX_BACKFILL_TICKS = 10_000


async def create(
    client,
    workflow: Workflow | str,
    cron: str,
    *,
    timezone: str = "UTC",
    key: str = DEFAULT_KEY,
    overlap: str = "skip",
    catch_up_s: int = 0,
) -> Schedule:
    """Create the schedule of ``workflow`` named ``key``, or change it (an upsert on
    (workflow, key)); a paused one stays paused. ``ScheduleError`` for an invalid cron
    expression, time zone or policy, ``UnknownWorkflowError`` for a workflow no worker
    runs: neither schedules anything."""
    spec = ScheduleSpec(cron, timezone, key, overlap, catch_up_s)
    name = await _known_workflow(client, workflow)
    routing_key, record = spec.set_record(name, "api", now_ms())
    await _judged(client, routing_key, record)
    return await get(client, names.schedule_id(name, key))


async def get(client, schedule_id: str) -> Schedule:
    """The schedule ``<workflow>/<key>``; ``ScheduleNotFoundError`` if there is none."""
    return await client.get_schedule(schedule_id)


async def list(client) -> builtins.list[Schedule]:  # noqa: A001 - the verb users know
    """Every schedule of the namespace, by id."""
    return await client.list_schedules()


async def pause(client, schedule_id: str) -> Outcome:
    """Stop starting runs; ``ALREADY`` if it was paused. Runs already started go on."""
    return await _command(client, schedule_id, "pause")


async def resume(client, schedule_id: str) -> Outcome:
    """Start runs again from the next tick after now: ticks missed while paused never run."""
    spec = (await get(client, schedule_id)).cron_spec()
    return await _command(client, schedule_id, "resume", next_tick_ms=spec.next_tick(now_ms()))


async def delete(client, schedule_id: str) -> Outcome:
    """Delete the schedule; its runs still open go on. A decorator's schedule comes back
    when a worker starts with that code again."""
    return await _command(client, schedule_id, "delete")


async def trigger(client, schedule_id: str) -> ExecutionHandle:
    """Start one run now, paused or not, whatever the overlap policy; its
    ``SchedulePayload.timestamp`` is now."""
    trigger_id = uuid.uuid4().hex[:16]
    await _command(client, schedule_id, "trigger", trigger_id=trigger_id)
    execution_id = names.trigger_execution_id_of_schedule(schedule_id, trigger_id)
    return ExecutionHandle(client, execution_id, names.routing_key(execution_id), False)


async def backfill(client, schedule_id: str, start: datetime, end: datetime) -> builtins.list[str]:
    """Run each tick in [``start``, ``end``] once: a tick that already has a run (from its
    timer or an earlier backfill) starts nothing. Returns the runs' ids, one per tick."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ScheduleError("backfill needs times with a time zone, e.g. datetime(..., tzinfo=UTC)")
    spec = (await get(client, schedule_id)).cron_spec()
    start_ms, end_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    ticks = []
    for tick in spec.ticks_after(start_ms - 1):
        if tick > end_ms:
            break
        if len(ticks) == MAX_BACKFILL_TICKS:
            raise ScheduleError(f"backfill of {schedule_id}: more than {MAX_BACKFILL_TICKS} ticks; split the range")
        ticks.append(tick)
    if ticks:
        await _command(client, schedule_id, "backfill", ticks=ticks)
    return [names.tick_execution_id(schedule_id, tick) for tick in ticks]


async def _command(client, schedule_id: str, action: str, **fields) -> Outcome:
    record = records.schedule_command(now_ms(), schedule_id=schedule_id, action=action, **fields)
    effects = await _judged(client, names.schedule_routing_key(schedule_id), record)
    kinds = {effect.kind for effect in effects}
    if EffectKind.SCHEDULE in kinds:
        return Outcome.APPLIED
    if EffectKind.DUPLICATE in kinds:
        return Outcome.ALREADY
    raise ScheduleNotFoundError(f"no schedule {schedule_id!r} in namespace {client.log.namespace!r}")


async def _judged(client, routing_key: str, record: records.Record) -> list:
    partition = client.log.partition_for(routing_key)

    async def append() -> int:
        return await client.log.append(partition, routing_key.encode(), client.codec.encode(record))

    effects, _ = await client.live.judge(routing_key, append)
    return effects


async def _known_workflow(client, workflow: Workflow | str) -> str:
    if isinstance(workflow, Workflow):
        return workflow.name
    announced = {wf.name for worker in await client.workers() for wf in worker.workflows}
    if workflow not in announced:
        raise UnknownWorkflowError(
            f"no worker of namespace {client.log.namespace!r} runs a workflow {workflow!r}"
            f" (they run {sorted(announced)}); nothing was scheduled"
        )
    return workflow
