"""Cron schedules under kill -9, with real processes (issue #18): exactly one run per tick,
and after an outage only the latest missed tick runs (the default policy).

The schedule is every second (6 fields, seconds first), made with ``logloom schedule
create`` against the ``ticker`` workflow of ``tests/apps/crash_app.py``, whose one step
writes a line per run to the effects file."""

import asyncio
import json
import time
from datetime import datetime

import pytest
from helpers import assert_eventually, run_cli
from processes import Effects, embedded_worker_owning, kafka_worker_owning, kill9, stop

from engine import names

pytestmark = pytest.mark.chaos

SCHEDULE = "ticker/chaos"


def tick_of(execution_id: str) -> int:
    stamp = execution_id.rsplit("@tick-", 1)[1]
    return int(datetime.strptime(stamp + "+0000", "%Y%m%dT%H%M%SZ%z").timestamp())


def runs(cli_args: list[str], env: dict) -> list[dict]:
    done = run_cli("workflow", "list", "--workflow", "ticker", "--output", "json", *cli_args, env=env)
    assert done.returncode == 0, done.stderr
    return [r for r in json.loads(done.stdout) if names.scheduled_run_schedule(r["execution_id"]) == SCHEDULE]


def ticks_ran(fx: Effects) -> list[int]:
    return sorted(tick_of(e) for e, step, event, _ in fx.lines() if step == "tick" and event == "ran")


async def until_more_ticks(fx: Effects, than: int, timeout: float = 60) -> None:
    await assert_eventually(lambda: len(ticks_ran(fx)) >= than, timeout=timeout, message=f"{than} ticks ran")


def check_one_run_per_tick(fx: Effects, cli_args: list[str], env: dict) -> list[int]:
    """Every run of the schedule is a distinct tick that ran its step once and completed."""
    listed = runs(cli_args, env)
    ticks = sorted(tick_of(r["execution_id"]) for r in listed)
    assert len(ticks) == len(set(ticks)), "one run per tick"
    ran = ticks_ran(fx)
    assert len(ran) == len(set(ran)), f"no tick's step ran twice: {ran}"
    return ticks


def gaps(ticks: list[int]) -> list[tuple[int, int]]:
    return [(a, b) for a, b in zip(ticks, ticks[1:]) if b - a > 1]


async def test_embedded_kill9_between_ticks_runs_each_tick_once_and_only_the_latest_missed(tmp_path):
    fx = Effects(tmp_path)
    data = ["--data-dir", str(tmp_path / "data")]
    log_file = tmp_path / "w1.log"
    worker = await embedded_worker_owning(fx, tmp_path / "data", log_file)
    try:
        created = run_cli("schedule", "create", "ticker", "* * * * * *", "--key", "chaos", *data, env=fx.env)
        assert created.returncode == 0, created.stderr
        await until_more_ticks(fx, 3)
        kill9(worker)
        killed_at = time.time()
        before = ticks_ran(fx)
        await asyncio.sleep(3.5)  # at least 3 ticks with no worker
        worker = await embedded_worker_owning(fx, tmp_path / "data", tmp_path / "w2.log")
        restarted_at = time.time()
        await until_more_ticks(fx, len(before) + 3)
    finally:
        stop(worker)

    ticks = check_one_run_per_tick(fx, data, fx.env)
    outage = gaps(ticks)
    assert len(outage) == 1, f"one outage, so one gap: {ticks}"
    last_before, first_after = outage[0]
    assert last_before <= killed_at and first_after - last_before >= 4, "3 or more ticks were missed"
    assert first_after <= restarted_at + 1, f"the latest missed tick ran at once: {first_after} vs {restarted_at}"
    assert [t for t in ticks if last_before < t < first_after] == [], "no other missed tick ran"


async def test_kafka_two_workers_and_a_kill9_give_one_run_per_tick(tmp_path, kafka_bootstrap, namespace):
    fx = Effects(tmp_path)
    kafka = ["--kafka", kafka_bootstrap, "--namespace", namespace]
    first = await kafka_worker_owning(fx, kafka_bootstrap, namespace, tmp_path, "w1")
    procs = [first]
    try:
        created = run_cli("schedule", "create", "ticker", "* * * * * *", "--key", "chaos", *kafka, env=fx.env)
        assert created.returncode == 0, created.stderr
        await until_more_ticks(fx, 3)
        procs.append(await kafka_worker_owning(fx, kafka_bootstrap, namespace, tmp_path, "w2"))  # a rebalance
        await until_more_ticks(fx, len(ticks_ran(fx)) + 3)
        kill9(first)  # whichever owned the schedule, its ticks go on
        await until_more_ticks(fx, len(ticks_ran(fx)) + 3, timeout=90)
        procs.append(await kafka_worker_owning(fx, kafka_bootstrap, namespace, tmp_path, "w3"))
        await until_more_ticks(fx, len(ticks_ran(fx)) + 3, timeout=90)
        run_cli("schedule", "pause", SCHEDULE, *kafka, env=fx.env)

        async def all_completed():
            listed = runs(kafka, fx.env)
            return all(r["status"] == "completed" for r in listed)

        await assert_eventually(all_completed, timeout=60, message="every run completed")
    finally:
        for proc in procs:
            stop(proc)
    ticks = check_one_run_per_tick(fx, kafka, fx.env)
    assert len(ticks) >= 12
    assert ticks_ran(fx) == ticks, "every run's step ran, once"
