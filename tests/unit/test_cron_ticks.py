"""Which instants are cron ticks, in a time zone, across DST; which missed ticks run."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from engine.workflow.cron import CronSpec, ScheduleError, due_ticks

NEW_YORK = ZoneInfo("America/New_York")


def ms(*args, zone=UTC) -> int:
    return int(datetime(*args, tzinfo=zone).timestamp() * 1000)


def local(tick_ms: int, zone=NEW_YORK) -> str:
    return datetime.fromtimestamp(tick_ms / 1000, zone).strftime("%m-%d %H:%M:%S %Z")


def test_daily_ticks_are_at_local_time_in_the_zone():
    spec = CronSpec("0 9 * * *", "Europe/Paris")
    ticks = spec.ticks_between(ms(2026, 1, 1), ms(2026, 1, 3))
    assert [local(t, ZoneInfo("Europe/Paris")) for t in ticks] == ["01-01 09:00:00 CET", "01-02 09:00:00 CET"]


def test_a_skipped_local_time_runs_once_shifted_forward_by_the_gap():
    # 2026-03-08: New York's clocks go from 02:00 to 03:00.
    spec = CronSpec("30 2 * * *", "America/New_York")
    ticks = spec.ticks_between(ms(2026, 3, 7, 0, 0, zone=NEW_YORK), ms(2026, 3, 9, 23, 0, zone=NEW_YORK))
    assert [local(t) for t in ticks] == ["03-07 02:30:00 EST", "03-08 03:30:00 EDT", "03-09 02:30:00 EDT"]


def test_a_skipped_time_that_lands_on_a_real_tick_is_one_tick():
    spec = CronSpec("*/30 * * * *", "America/New_York")
    ticks = spec.ticks_between(ms(2026, 3, 8, 1, 0, zone=NEW_YORK), ms(2026, 3, 8, 4, 0, zone=NEW_YORK))
    assert [local(t) for t in ticks] == [
        "03-08 01:30:00 EST",
        "03-08 03:00:00 EDT",
        "03-08 03:30:00 EDT",
        "03-08 04:00:00 EDT",
    ]


def test_a_repeated_local_time_runs_once_at_its_first_occurrence():
    # 2026-11-01: New York's clocks go from 02:00 EDT back to 01:00 EST.
    spec = CronSpec("30 1 * * *", "America/New_York")
    ticks = spec.ticks_between(ms(2026, 10, 31, 12, 0, zone=NEW_YORK), ms(2026, 11, 2, 12, 0, zone=NEW_YORK))
    assert [local(t) for t in ticks] == ["11-01 01:30:00 EDT", "11-02 01:30:00 EST"]


def test_a_seconds_field_gives_ticks_every_second():
    spec = CronSpec("* * * * * *")
    start = ms(2026, 5, 1, 12, 0, 0)
    assert spec.ticks_between(start, start + 3000) == [start + 1000, start + 2000, start + 3000]
    assert spec.next_tick(start + 1) == start + 1000
    assert spec.latest_tick(start + 1500) == start + 1000


def test_missed_ticks_run_the_latest_once_by_default():
    spec = CronSpec("0 * * * *")  # hourly
    last = ms(2026, 5, 1, 9, 0)
    now = ms(2026, 5, 1, 12, 20)  # 10:00, 11:00 and 12:00 were missed
    assert due_ticks(spec, last, now) == [ms(2026, 5, 1, 12, 0)]
    assert due_ticks(spec, ms(2026, 5, 1, 12, 0), now) == []  # that one ran: nothing is due


def test_a_catch_up_window_runs_each_missed_tick_inside_it_oldest_first():
    spec = CronSpec("0 * * * *")
    last = ms(2026, 5, 1, 9, 0)
    now = ms(2026, 5, 1, 12, 20)
    assert due_ticks(spec, last, now, catch_up_s=2.5 * 3600) == [
        ms(2026, 5, 1, 10, 0),
        ms(2026, 5, 1, 11, 0),
        ms(2026, 5, 1, 12, 0),
    ]
    assert due_ticks(spec, last, now, catch_up_s=1.5 * 3600) == [ms(2026, 5, 1, 11, 0), ms(2026, 5, 1, 12, 0)]


@pytest.mark.parametrize(
    ("cron", "zone", "message"),
    [
        ("61 * * * *", "UTC", "invalid cron expression '61 \\* \\* \\* \\*'"),
        ("every day", "UTC", "invalid cron expression"),
        ("0 9 * * *", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
    ],
)
def test_a_bad_cron_or_zone_is_a_clear_error(cron, zone, message):
    with pytest.raises(ScheduleError, match=message):
        CronSpec(cron, zone)
