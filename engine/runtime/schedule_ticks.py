"""What the owner appends when a schedule's timer goes off: which ticks are due.

The fold reads no time zone data (``fold/schedules.py``), so the owner computes the ticks
here, with the schedule's cron and zone (``workflow/cron.py``), and writes them into
``ScheduleTicked``:

1. the ticks due in (last tick, now], after the missed-tick policy (``due_ticks``): the
   latest alone, or with ``catch_up_s`` every one that recent; never one before the
   timer's own due time (ticks missed while paused do not run);
2. the next tick after now, where the fold sets the schedule's timer again.
"""

from __future__ import annotations

import logging

from ..fold.keys import schedule_key
from ..wire import records
from ..workflow.cron import CronSpec, ScheduleError, due_ticks

log = logging.getLogger(__name__)


def tick_record(store, epoch: int, schedule_id: str, due_at_ms: int, now_ms: int) -> records.Record:
    row = store.get(schedule_key(schedule_id))
    ticks: list[int] = []
    next_tick_ms = None
    if row is not None:
        try:
            spec = CronSpec(row["cron"], row["timezone"])
        except ScheduleError as exc:  # e.g. a zone this machine's tz database lacks
            log.error("schedule %s stops: %s", schedule_id, exc)
        else:
            last = due_at_ms - 1 if row["last_tick"] is None else max(row["last_tick"], due_at_ms - 1)
            ticks = due_ticks(spec, last, now_ms, row["catch_up_s"])
            next_tick_ms = spec.next_tick(now_ms)
    return records.schedule_ticked(
        epoch, now_ms, schedule_id=schedule_id, due_at=due_at_ms, ticks=ticks, next_tick_ms=next_tick_ms
    )
