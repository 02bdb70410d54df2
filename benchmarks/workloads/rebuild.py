"""REBUILD: fold a 100k-record journal partition into an empty store, then a 1k-record tail.

One repetition, on a fresh namespace with one partition:

1. append N records (default 100k) to partition 0, in chunks of concurrent appends; the
   records are made a chunk at a time, so the harness holds one chunk, not the journal;
2. time ``engine.replay.rebuild_partition(log, 0, store_dir)`` from an empty store, and
   take the harness's peak RSS over it (``VmHWM``, reset just before): the rebuild must
   not hold more memory for a longer log;
3. append 1,000 more records and time ``rebuild_partition`` again on the same store:
   a restart must cost the tail, not the history;
4. time ``engine.replay.verify_partition`` of that store (``logloom replay verify``): a
   rebuild of the whole partition beside it, and the two compared key by key.

The journal is what a worker writes: a leading ``PartitionClaimed`` (epoch 1), then per
execution ``InvocationRequested`` (epoch 0, from a client), ``ExecutionStarted``,
3 x ``StepCompleted`` and ``ExecutionCompleted`` (epoch 1), executions interleaved in
groups of 8 as concurrent executions are. Encoded with ``engine.wire.codec.default_codec()``.
"""

from __future__ import annotations

import asyncio
import gc
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from itertools import islice
from pathlib import Path

from engine.fold import Status
from engine.fold.keys import execution_key
from engine.names import PARTITION_KEY
from engine.replay import rebuild_partition, verify_partition
from engine.store import StorePartition
from engine.wire import records as rec
from engine.wire.codec import default_codec

from ..envs import new_namespace
from ..procstat import CpuMeter, memory_mb, reset_peak
from . import Metric, Workload, register

TAIL = 1_000
CHUNK = 10_000
INTERLEAVE = 8
AT = 1_767_225_600_000  # 2026-01-01, in ms
OWNER = "bench-host-1-abcdef/0123abcd"


def execution_id(i: int) -> str:
    return f"{i:08x}{'0' * 24}"  # 32 hex characters, like uuid4().hex


def _records_of(codec, eid: str, x: int, at: int) -> list[list[tuple[bytes, bytes]]]:
    """The six records of one execution, one list per phase."""
    key = eid.encode()
    phases = [[(key, codec.encode(rec.invocation_requested(eid, at, workflow="bench_w1", input=f'{{"x":{x}}}')))]]
    phases.append([(key, codec.encode(rec.execution_started(eid, 1, at, worker="bench-host-1-abcdef")))])
    for seq in (1, 2, 3):
        phases.append(
            [
                (
                    key,
                    codec.encode(
                        rec.step_completed(eid, 1, at, seq=seq, key=f"s{seq}", attempt=1, result=str(x + seq))
                    ),
                )
            ]
        )
    phases.append([(key, codec.encode(rec.execution_completed(eid, 1, at, result=str(x + 3))))])
    return phases


def journal(start: int, count: int) -> Iterator[tuple[bytes, bytes]]:
    """Records ``start`` to ``start + count`` of the benchmark journal, as (key, value) pairs,
    made as they are taken: a leading claim, then groups of ``INTERLEAVE`` executions of
    six records each (whole groups before ``start`` are skipped without being made)."""
    codec = default_codec()
    end = start + count
    if start == 0 and count:
        yield (PARTITION_KEY, codec.encode(rec.partition_claimed(1, AT, owner=OWNER)))
    per_group = 6 * INTERLEAVE
    group = max(0, start - 1) // per_group
    position = 1 + group * per_group
    while position < end:
        i = group * INTERLEAVE
        executions = [_records_of(codec, execution_id(i + j), i + j, AT + i) for j in range(INTERLEAVE)]
        for phase in range(6):
            for execution in executions:
                for record in execution[phase]:
                    if start <= position < end:
                        yield record
                    position += 1
        group += 1


async def append_all(log, records: Iterable[tuple[bytes, bytes]]) -> None:
    records = iter(records)
    while chunk := list(islice(records, CHUNK)):
        await asyncio.gather(*(log.append(0, key, value) for key, value in chunk))


async def _timed_rebuild(env, log, store_dir: Path, expected: int, what: str) -> tuple[float, dict, dict]:
    """Rebuild partition 0's store from where it stands; seconds, CPU and the harness's
    memory (RSS before, peak during), checking the record count."""
    gc.collect()
    pid = os.getpid()
    reset_peak(pid)
    before = memory_mb(pid)["rss_mb"]
    meter = CpuMeter(env.pids)
    t0 = time.perf_counter()
    read = await rebuild_partition(log, 0, store_dir)
    seconds = time.perf_counter() - t0
    cpu = meter.stop()
    if read != expected:
        raise AssertionError(f"{what} read {read} records, expected {expected}")
    return seconds, cpu, {"rss_before_mb": before, "peak_rss_mb": memory_mb(pid)["hwm_mb"]}


async def run(env, params: dict) -> dict[str, float]:
    n, tail = params["records"], params["tail"]
    workdir = Path(tempfile.mkdtemp(prefix="logloom-bench-rebuild-"))
    store_dir = workdir / "store"
    namespace = new_namespace("rebuild")
    log = env.new_log(workdir, namespace, 1)
    await log.start()
    try:
        t0 = time.perf_counter()
        await append_all(log, journal(0, n))
        write_s = time.perf_counter() - t0

        full_s, cpu_full, memory = await _timed_rebuild(env, log, store_dir, n, "rebuild from empty")
        await append_all(log, journal(n, tail))
        tail_s, cpu_tail, _ = await _timed_rebuild(env, log, store_dir, tail, "tail rebuild")
        _check_store(store_dir, n + tail)
        t0 = time.perf_counter()
        verified = await verify_partition(log, 0, store_dir, workdir / "scratch")
        verify_s = time.perf_counter() - t0
        if not verified.equal or verified.offset != n + tail - 1:
            raise AssertionError(f"verify: {verified}")
    finally:
        await log.close()
        await env.drop_namespace(namespace)
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "records_per_s": n / full_s,
        "full_s": full_s,
        "tail_s": tail_s,
        "tail_records_per_s": tail / tail_s,
        "verify_s": verify_s,
        "cpu_s_full": sum(cpu_full.values()),
        "cpu_s_tail": sum(cpu_tail.values()),
        "write_records_per_s": n / write_s,
        "peak_rss_mb": memory["peak_rss_mb"],
        "rss_before_mb": memory["rss_before_mb"],
        **{f"cpu_s_full_{role}": s for role, s in cpu_full.items()},
    }


def _check_store(store_dir: Path, total: int) -> None:
    """The fold applied everything and accepted the epoch-1 records (nothing was fenced)."""
    store = StorePartition(store_dir)
    try:
        if store.applied_offset() != total - 1:
            raise AssertionError(f"store applied offset {store.applied_offset()}, expected {total - 1}")
        row = store.get(execution_key(execution_id(0)))
        if row is None or row["status"] != Status.COMPLETED or row["result"] != "3":
            raise AssertionError(f"execution 0 folded as {row!r}, expected completed with result 3")
    finally:
        store.close()


def variants(args) -> list[dict]:
    return [{"records": n, "tail": TAIL} for n in args.rebuild_records]


register(
    Workload(
        name="rebuild",
        summary="rebuild_partition of an N-record partition from empty, then of a 1k tail",
        metrics=(
            Metric("records_per_s", "rebuild from empty", "records/s", "higher", {"embedded": 50_000, "kafka": 50_000}),
            Metric("full_s", "rebuild from empty", "s", "lower"),
            Metric("tail_s", "tail restart (1k records)", "s", "lower"),
            Metric(
                "verify_s", "replay verify of the whole partition (a rebuild beside it, then compared)", "s", "lower"
            ),
            Metric("cpu_s_full", "CPU, rebuild from empty", "s", "lower"),
            Metric("write_records_per_s", "writing the journal", "records/s"),
            Metric("peak_rss_mb", "harness peak RSS during the rebuild from empty", "MB", "lower"),
            Metric("rss_before_mb", "harness RSS before it", "MB"),
        ),
        run=run,
        variants=variants,
    )
)
