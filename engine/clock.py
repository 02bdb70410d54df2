"""The wall clock, and conversions between the units the engine uses.

Python code uses seconds for durations (``timeout_s``) and aware UTC datetimes for
instants; the wire and the store use integer milliseconds since the epoch
(``due_at_ms``). The fold never reads this clock: time enters it only through a
record's ``at``.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime


def now_ms() -> int:
    """Milliseconds since the epoch, now."""
    return int(time.time() * 1000)


def ms_after(duration_s: float) -> int:
    """The instant ``duration_s`` seconds from now, in ms since the epoch."""
    return int((time.time() + duration_s) * 1000)


def seconds_until(at_ms: int) -> float:
    """Seconds from now until ``at_ms`` (negative once it has passed)."""
    return at_ms / 1000 - time.time()


def to_datetime(at_ms: int | None) -> datetime | None:
    """Milliseconds since the epoch as an aware UTC datetime (None stays None)."""
    return None if at_ms is None else datetime.fromtimestamp(at_ms / 1000, tz=UTC)


def to_ms(when: datetime) -> int:
    """An aware datetime (naive means UTC) in milliseconds since the epoch."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp() * 1000)


CLOCK_SKEW_MS = 5000  # how far two machines' clocks may differ: reads by time start this much earlier
