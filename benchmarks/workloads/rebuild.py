"""REBUILD: fold a 100k-record journal partition into an empty store, then a 1k-record tail.

One repetition, on a fresh namespace with one partition:

1. append N records (default 100k) to partition 0, in chunks of concurrent appends;
2. time ``engine.replay.rebuild_partition(log, 0, store_dir)`` from an empty store;
3. append 1,000 more records and time ``rebuild_partition`` again on the same store:
   a restart must cost the tail, not the history.

The journal is what a worker writes: a leading ``PartitionClaimed`` (epoch 1), then per
execution ``InvocationRequested`` (epoch 0, from a client), ``ExecutionStarted``,
3 x ``StepCompleted`` and ``ExecutionCompleted`` (epoch 1), executions interleaved in
groups of 8 as concurrent executions are. Encoded with ``engine.wire.codec.default_codec()``.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from functools import lru_cache
from pathlib import Path

from engine.fold import Status
from engine.fold.keys import execution_key
from engine.names import PARTITION_KEY
from engine.replay import rebuild_partition
from engine.store import StorePartition
from engine.wire import records as rec
from engine.wire.codec import default_codec

from ..envs import new_namespace
from ..procstat import CpuMeter
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


@lru_cache(maxsize=2)
def journal(count: int) -> list[tuple[bytes, bytes]]:
    """The first ``count`` records of the benchmark journal, as (key, value) pairs."""
    codec = default_codec()
    out = [(PARTITION_KEY, codec.encode(rec.partition_claimed(1, AT, owner=OWNER)))]
    i = 0
    while len(out) < count:
        group = [_records_of(codec, execution_id(i + j), i + j, AT + i) for j in range(INTERLEAVE)]
        for phase in range(6):
            for execution in group:
                out.extend(execution[phase])
        i += INTERLEAVE
    return out[:count]


async def append_all(log, records: list[tuple[bytes, bytes]]) -> None:
    for start in range(0, len(records), CHUNK):
        await asyncio.gather(*(log.append(0, key, value) for key, value in records[start : start + CHUNK]))


async def _timed_rebuild(env, log, store_dir: Path, expected: int, what: str) -> tuple[float, dict]:
    """Rebuild partition 0's store from where it stands; seconds and CPU, checking the record count."""
    meter = CpuMeter(env.pids)
    t0 = time.perf_counter()
    read = await rebuild_partition(log, 0, store_dir)
    seconds = time.perf_counter() - t0
    cpu = meter.stop()
    if read != expected:
        raise AssertionError(f"{what} read {read} records, expected {expected}")
    return seconds, cpu


async def run(env, params: dict) -> dict[str, float]:
    n, tail = params["records"], params["tail"]
    records = journal(n + tail)
    workdir = Path(tempfile.mkdtemp(prefix="logloom-bench-rebuild-"))
    store_dir = workdir / "store"
    namespace = new_namespace("rebuild")
    log = env.new_log(workdir, namespace, 1)
    await log.start()
    try:
        t0 = time.perf_counter()
        await append_all(log, records[:n])
        write_s = time.perf_counter() - t0

        full_s, cpu_full = await _timed_rebuild(env, log, store_dir, n, "rebuild from empty")
        await append_all(log, records[n:])
        tail_s, cpu_tail = await _timed_rebuild(env, log, store_dir, tail, "tail rebuild")
        _check_store(store_dir, n + tail)
    finally:
        await log.close()
        await env.drop_namespace(namespace)
        shutil.rmtree(workdir, ignore_errors=True)
    return {
        "records_per_s": n / full_s,
        "full_s": full_s,
        "tail_s": tail_s,
        "tail_records_per_s": tail / tail_s,
        "cpu_s_full": sum(cpu_full.values()),
        "cpu_s_tail": sum(cpu_tail.values()),
        "write_records_per_s": n / write_s,
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
            Metric("cpu_s_full", "CPU, rebuild from empty", "s", "lower"),
            Metric("write_records_per_s", "writing the journal", "records/s"),
        ),
        run=run,
        variants=variants,
    )
)
