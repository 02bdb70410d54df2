"""A queue's limit under kill -9, with real processes on Kafka (issue #18): 200 runs on a
queue of 5 across 3 workers, one of them killed midway. At no instant do more than 5
attempts run; every run completes; runs start in the order they were queued.

The workflow (``limited`` in ``tests/apps/crash_app.py``) writes a line when its step's
attempt starts and when it ends, with the time; an attempt the kill cut short has no end,
so it counts until the kill."""

import asyncio
import re
import time

import pytest
from helpers import assert_eventually
from processes import Effects, kafka_worker_owning, kill9, stop

from engine.names import queue_routing_key

pytestmark = pytest.mark.chaos

RUNS, LIMIT = 200, 5


def owner_of(tmp_path, partition: int) -> int:
    """Which of w0..w2 owns ``partition`` now: the one whose log claimed it with the highest epoch."""
    claims = {}
    for n in range(3):
        for line in (tmp_path / f"w{n}.log").read_text().splitlines():
            found = re.search(rf"partition {partition}: active with epoch (\d+)", line)
            if found:
                claims[int(found.group(1))] = n
    return claims[max(claims)]


def attempts(fx: Effects, killed_pid: int, killed_at: float) -> list[tuple[float, float, int]]:
    """(start, end, run) of every attempt; one the kill cut short ends at the kill."""
    starts: dict[tuple[str, str], tuple[float, int]] = {}
    out = []
    for line in fx.lines():
        execution_id, i, event, pid, at = line
        if event == "start":
            starts[(execution_id, pid)] = (float(at), int(i))
        else:
            start, run = starts.pop((execution_id, pid))
            out.append((start, float(at), run))
    for (_, pid), (start, run) in starts.items():
        assert int(pid) == killed_pid, "only the killed worker left attempts unfinished"
        out.append((start, killed_at, run))
    return out


def most_at_once(spans: list[tuple[float, float, int]]) -> int:
    events = sorted([(s, 1) for s, _, _ in spans] + [(e, -1) for _, e, _ in spans])  # an end before a start
    inside = most = 0
    for _, step in events:
        inside += step
        most = max(most, inside)
    return most


async def test_a_queue_of_5_across_3_workers_with_a_kill9_never_runs_more_than_5(
    tmp_path, kafka_bootstrap, namespace, kafka_client
):
    fx = Effects(tmp_path)
    workers = [await kafka_worker_owning(fx, kafka_bootstrap, namespace, tmp_path, f"w{n}") for n in range(3)]
    try:
        handles = [await kafka_client.invoke("limited", {"i": i}, concurrency_key="k") for i in range(RUNS)]

        async def a_third_done():
            return sum(1 for line in fx.lines() if line[2] == "end") >= RUNS // 3

        await assert_eventually(a_third_done, timeout=120, message="a third of the runs done")
        victim = workers[owner_of(tmp_path, kafka_client.log.partition_for(queue_routing_key("chaos-q", "k")))]
        kill9(victim)  # the owner of the queue's partition: its slots move to another worker
        killed_at = time.time()
        results = await asyncio.gather(*(h.result(timeout=240) for h in handles))
    finally:
        for worker in workers:
            stop(worker)

    assert results == list(range(RUNS)), "every run completed with its own result"
    spans = attempts(fx, victim.pid, killed_at)
    assert most_at_once(spans) <= LIMIT, "at no instant more than the limit"
    assert most_at_once(spans) == LIMIT, "and the limit was used"
    first_start = {}
    for start, _, run in sorted(spans):
        first_start.setdefault(run, start)
    order = sorted(first_start, key=first_start.get)
    late = [run for n, run in enumerate(order) if any(earlier > run + LIMIT for earlier in order[:n])]
    assert not late, f"FIFO within the key (up to the {LIMIT} that start together): {late[:10]}"
