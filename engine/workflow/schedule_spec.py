"""What a schedule is, as users write it: ``@workflow(schedule=...)`` or ``cron=...``, and
``schedules.create(...)``; and ``SchedulePayload``, what each of its runs gets.

``ScheduleSpec`` validates at once (decoration, or the call): an invalid cron expression
or time zone, an unknown overlap policy or a negative catch-up window is a
``ScheduleError`` that names it, and starts nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from .. import names
from ..fold.schedules import OVERLAP_POLICIES, SKIP
from ..wire import records
from .cron import CronSpec, ScheduleError

DEFAULT_KEY = "global"


@dataclass(frozen=True)
class ScheduleSpec:
    """A cron expression in an IANA zone, with its key and policies.

    ``overlap``: a tick while the previous run is still open is ``skip``ped (default),
    ``buffer_one`` (the latest such tick runs when the open run ends) or ``allow_all``.
    ``catch_up_s``: after an outage, every missed tick up to this old runs; 0 (default):
    only the latest missed tick."""

    cron: str
    timezone: str = "UTC"
    key: str = DEFAULT_KEY
    overlap: str = SKIP
    catch_up_s: int = 0

    def __post_init__(self):
        CronSpec(self.cron, self.timezone)  # raises ScheduleError, naming what is wrong
        if self.overlap not in OVERLAP_POLICIES:
            raise ScheduleError(f"unknown overlap policy {self.overlap!r}: expected one of {list(OVERLAP_POLICIES)}")
        if not isinstance(self.catch_up_s, int) or isinstance(self.catch_up_s, bool) or self.catch_up_s < 0:
            raise ScheduleError(f"catch_up_s must be a whole number of seconds >= 0, got {self.catch_up_s!r}")
        if not isinstance(self.key, str) or not self.key:
            raise ScheduleError(f"a schedule's key must be a non-empty string, got {self.key!r}")

    @property
    def cron_spec(self) -> CronSpec:
        return CronSpec(self.cron, self.timezone)

    def set_record(self, workflow: str, source: str, at_ms: int) -> tuple[str, records.Record]:
        """(routing key, ``ScheduleSet``) that creates or updates this schedule of ``workflow``."""
        schedule_id = names.schedule_id(workflow, self.key)
        record = records.schedule_set(
            at_ms,
            schedule_id=schedule_id,
            workflow=workflow,
            key=self.key,
            cron=self.cron,
            timezone=self.timezone,
            overlap=self.overlap,
            catch_up_s=self.catch_up_s,
            source=source,
            next_tick_ms=self.cron_spec.next_tick(at_ms),
        )
        return names.schedule_routing_key(schedule_id), record


def schedule_from(schedule: Any = None, cron: str | None = None) -> ScheduleSpec | None:
    """``@workflow(schedule=...)`` (a cron string, a dict with ``cron``, ``timezone`` and
    the policies, or a ``ScheduleSpec``) or ``@workflow(cron=...)``; None for neither."""
    if schedule is not None and cron is not None:
        raise ScheduleError("give schedule= or cron=, not both")
    if cron is not None:
        return ScheduleSpec(cron)
    if schedule is None or isinstance(schedule, ScheduleSpec):
        return schedule
    if isinstance(schedule, str):
        return ScheduleSpec(schedule)
    if isinstance(schedule, dict):
        unknown = set(schedule) - {"cron", "timezone", "key", "overlap", "catch_up_s"}
        if unknown or "cron" not in schedule:
            raise ScheduleError(
                "a schedule dict needs 'cron' and may have 'timezone', 'key', 'overlap', 'catch_up_s';"
                f" got {schedule!r}"
            )
        return ScheduleSpec(**schedule)
    raise ScheduleError(f"schedule= takes a cron string or a dict, got {schedule!r}")


class SchedulePayload(BaseModel):
    """What a scheduled run gets. ``timestamp`` is its tick, not the moment it started;
    ``last_timestamp`` the tick of the schedule's previous run (None for the first);
    ``upcoming`` the next tick."""

    timestamp: datetime
    last_timestamp: datetime | None = None
    timezone: str
    schedule_id: str
    key: str
    upcoming: datetime | None = None
