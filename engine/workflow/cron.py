"""Cron schedules: which instants are ticks, and which ticks are due (issue #18).

Pure: no clock. Every function takes the times it reasons about, in ms since the epoch.

A tick is computed in the schedule's IANA time zone, then fixed as an instant:

1. the cron expression is walked over *local wall-clock* times, as a calendar would
   (croniter on naive datetimes: no time zone arithmetic inside cron's rules);
2. each local time becomes an instant with the zone's rules (``zoneinfo``, ``fold=0``):
   - a local time that happens twice (the hour repeated when clocks go back) is its
     **first** occurrence, so ``30 1 * * *`` runs once on that night, not twice;
   - a local time that does not happen (the hour skipped when clocks go forward) is
     shifted **forward by the gap**: ``30 2 * * *`` runs at 03:30 that day, once;
3. two local times that become one instant (a skipped 02:30 and a real 03:30) are one
   tick.

Missed ticks (every worker down past one or more ticks) follow ``due_ticks``: by default
only the latest missed tick runs; ``catch_up_s`` lets every missed tick within that many
seconds of now run, oldest first.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from ..errors import ScheduleError

MAX_CATCH_UP_TICKS = 1_000  # a catch-up never starts more runs than this at once
MARGIN_HOURS = 3  # near a change of a zone's offset, walks start this far off (gaps are shorter)


@dataclass(frozen=True)
class CronSpec:
    """A validated cron expression (5 fields, or 6 with seconds first) in an IANA zone."""

    cron: str
    timezone: str = "UTC"

    def __post_init__(self):
        if not isinstance(self.cron, str) or not croniter.is_valid(self.cron, second_at_beginning=True):
            raise ScheduleError(f"invalid cron expression {self.cron!r}: expected 5 fields, or 6 with seconds first")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ScheduleError(
                f"unknown time zone {self.timezone!r}: expected an IANA name, e.g. 'Europe/Paris'"
            ) from None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def ticks_after(self, after_ms: int) -> Iterator[int]:
        """Every tick strictly after ``after_ms``, in order, as ms instants."""
        zone = self.zone
        # Near a change of offset, start the walk a little before ``after_ms`` in local
        # time: around a skipped hour a local time maps forward, so a tick instant just
        # after ``after_ms`` can come from a local time before it. Elsewhere, at it (a walk
        # over hours of an every-second cron would take a second).
        local = datetime.fromtimestamp(after_ms / 1000, zone).replace(tzinfo=None)
        walk = croniter(self.cron, _minus_hours(local, _margin_hours(after_ms, zone)), second_at_beginning=True)
        last = after_ms
        while True:
            tick = _instant_ms(walk.get_next(datetime), zone)
            if tick > last:  # a skipped local time can map onto, or past, the next real one
                yield tick
                last = tick

    def next_tick(self, after_ms: int) -> int:
        return next(self.ticks_after(after_ms))

    def ticks_between(self, after_ms: int, until_ms: int) -> list[int]:
        """The ticks in (``after_ms``, ``until_ms``], oldest first."""
        out = []
        for tick in self.ticks_after(after_ms):
            if tick > until_ms:
                return out
            out.append(tick)

    def latest_tick(self, at_ms: int) -> int:
        """The last tick at or before ``at_ms``."""
        zone = self.zone
        local = datetime.fromtimestamp(at_ms / 1000, zone).replace(tzinfo=None)
        margin = _margin_hours(at_ms, zone)
        walk = croniter(self.cron, _minus_hours(local, -margin) + timedelta(seconds=1), second_at_beginning=True)
        floor = _minus_hours(local, margin)
        best = None
        while True:  # walk back past where a skipped local time could still map after a real one
            local_tick = walk.get_prev(datetime)
            tick = _instant_ms(local_tick, zone)
            if tick <= at_ms and (best is None or tick > best):
                best = tick
            if best is not None and local_tick < floor:
                return best


def due_ticks(spec: CronSpec, last_tick_ms: int, now_ms: int, catch_up_s: float = 0) -> list[int]:
    """The ticks to run now, oldest first, when the last tick that ran was ``last_tick_ms``.

    Default: the latest tick in (``last_tick_ms``, ``now_ms``] alone. With ``catch_up_s``,
    every tick of that interval within ``catch_up_s`` of now, the latest
    ``MAX_CATCH_UP_TICKS`` at most, so a laptop that slept a week does not start a week of
    runs.
    """
    latest = spec.latest_tick(now_ms)
    if latest <= last_tick_ms:
        return []
    if catch_up_s <= 0:
        return [latest]
    ticks = spec.ticks_between(max(last_tick_ms, now_ms - int(catch_up_s * 1000) - 1), now_ms)
    return ticks[-MAX_CATCH_UP_TICKS:]


def _instant_ms(local: datetime, zone: ZoneInfo) -> int:
    """A naive local time as an instant: its first occurrence; a skipped one moves forward by the gap."""
    aware = local.replace(tzinfo=zone, fold=0)
    # Round trip through UTC: a local time in a gap comes back as another wall time.
    return int(aware.astimezone(UTC).timestamp() * 1000)


def _margin_hours(at_ms: int, zone: ZoneInfo) -> int:
    """``MARGIN_HOURS`` if the zone's offset changes within that many hours of ``at_ms``, else 0."""
    before = datetime.fromtimestamp(at_ms / 1000 - MARGIN_HOURS * 3600, zone).utcoffset()
    after = datetime.fromtimestamp(at_ms / 1000 + MARGIN_HOURS * 3600, zone).utcoffset()
    return MARGIN_HOURS if before != after else 0


def _minus_hours(local: datetime, hours: int) -> datetime:
    return datetime.fromtimestamp(local.replace(tzinfo=UTC).timestamp() - hours * 3600, UTC).replace(tzinfo=None)
