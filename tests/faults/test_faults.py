"""Faults under a steady load of 3-step runs, on real worker processes and a real broker.

Every scenario checks the promise: every run completes with its result; no step whose
``StepCompleted`` reached the log ran again (``benchmarks/fault_verdict.py`` says how
that is proven from the effects file and the journal); and, after the test, every store
the workers left folds from the log exactly (``conftest.py``). Graceful operations
(SIGTERM, scaling) must re-run nothing at all; a ``kill -9`` may re-run the steps that
were in flight, and their partitions must progress again soon after.
"""

from __future__ import annotations

import asyncio
import random

from cluster import verdict

RECOVERED_WITHIN_S = 10.0  # asserted per kill; the goal, 3 s, is measured by the FAULTS benchmark


def all_completed(load) -> None:
    assert load.results == load.expected, "every run completes with its result"
    assert len(load.results) > 0


async def test_kill9_of_a_random_worker_every_few_seconds(fault):
    workers = fault.workers
    names = ["w0", "w1", "w2"]
    load = await fault.under_load(*names)
    rounds = fault.rounds(ci=4, soak=30)
    restarts = []
    for _ in range(rounds):
        await asyncio.sleep(3)
        victim = random.choice(names)
        workers.kill9(victim)
        restarts.append(asyncio.get_running_loop().call_later(1.0, workers.start, victim))
    await asyncio.sleep(1.5)
    await workers.until_ready(*names)
    await load.until_completed(50)
    await load.stop()

    judged = await verdict(fault.client, fault.effects, workers.faults, load)
    all_completed(load)
    assert judged.ran_again == [], "a completed step ran again"
    assert judged.unrecorded == []
    assert judged.hits >= 1, "a kill hit a worker that owned partitions"
    assert len(judged.stalls_s) == judged.hits, "the killed worker's partitions progressed again after every kill"
    assert max(judged.stalls_s) < RECOVERED_WITHIN_S, judged.stalls_s


async def test_a_worker_stopped_past_its_session_is_a_zombie_whose_late_writes_do_not_count(fault):
    workers = fault.workers
    load = await fault.under_load("w0", "w1")
    for _ in range(fault.rounds(ci=1, soak=5)):
        workers.stop("w1")  # SIGSTOP: its session (1.5 s) expires; w0 takes its partitions
        await asyncio.sleep(5)
        await load.until_completed(50)  # the load goes on without it
        workers.cont("w1")  # SIGCONT: it wakes with steps in flight, and appends them late
        await asyncio.sleep(3)
        await workers.until_ready("w0", "w1")
    await load.until_completed(50)
    await load.stop()

    judged = await verdict(fault.client, fault.effects, fault.workers.faults, load)
    all_completed(load)
    assert judged.ran_again == [], "a completed step ran again"
    assert workers.procs["w1"].poll() is None, "the zombie rejoined and goes on"
    told = workers.log_file("w1").read_text(errors="replace")
    assert "session timed out" in told or "membership not confirmed" in told, (
        "the zombie learned it lost its partitions"
    )


async def test_a_rolling_restart_with_sigterm_reruns_nothing(fault):
    workers = fault.workers
    names = ["w0", "w1", "w2"]
    load = await fault.under_load(*names)
    for _ in range(fault.rounds(ci=1, soak=5)):
        for name in names:
            assert await workers.terminate(name) == 0, workers.tail(name)
            workers.start(name)
            await workers.until_ready(*names)
            await load.until_completed(20)
    await load.stop()

    judged = await verdict(fault.client, fault.effects, fault.workers.faults, load)
    all_completed(load)
    assert judged.ran_again == []
    assert judged.duplicates == 0, "a graceful stop finishes and records its steps in flight"
    assert max(judged.others_gaps_s) < 2.0, f"the other workers' partitions kept going: {judged.others_gaps_s}"


async def test_two_workers_added_under_load_then_removed_rerun_nothing(fault):
    workers = fault.workers
    load = await fault.under_load("w0")
    for _ in range(fault.rounds(ci=1, soak=5)):
        workers.start("w1")
        workers.start("w2")
        await workers.until_ready("w0", "w1", "w2")
        await load.until_completed(50)
        for name in ("w1", "w2"):
            assert await workers.terminate(name) == 0, workers.tail(name)
        await workers.until_ready("w0")
        await load.until_completed(50)
    await load.stop()

    judged = await verdict(fault.client, fault.effects, fault.workers.faults, load)
    all_completed(load)
    assert judged.ran_again == []
    assert judged.duplicates == 0, "partitions given up in a rebalance drain their steps in flight first"
    replays = workers.replays("w1") + workers.replays("w2")
    assert replays, "the added workers replayed the partitions they took"
    print(f"[faults] replays of the added workers, the first round's on empty volumes (records, s): {replays}")
