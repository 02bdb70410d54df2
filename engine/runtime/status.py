"""What a worker holds, in numbers: ``Worker.status()`` and the status file.

Every in-memory collection a worker keeps has a bound and a figure here, beside the
RocksDB memory its stores share (``store.memory``). With ``status_file`` set, the worker
writes this JSON every ``PROGRESS_EVERY_S`` (written aside, then renamed: a reader never
sees half of it), for probes, dashboards and the ``mem`` benchmark:

    {"worker": ID, "at": MS, "partitions": {P: {"phase": ..., "applied": OFFSET,
                                                 "replayed_from": OFFSET, "replay_s": S}},
     "runs": {"in_memory": N, "idle": N, "idle_limit": N, "limit": N, "deferred": N,
              "deferred_on_disk": N, "deferred_memory_limit": N},
     "outcomes_awaited": N, "timers_in_flight": N, "appends_in_flight": N,
     "store": {"cache_capacity_bytes": ..., "cache_usage_bytes": ..., "cache_pinned_bytes": ...,
               "memtable_budget_bytes": ..., "memtable_usage_bytes": ..., "table_readers_bytes": ...},
     "python": {"allocated_blocks": N},
     "c_heap": {"in_use_bytes": ..., "free_held_bytes": ..., "arenas_bytes": ..., "mmap_bytes": ...}}

``c_heap`` is glibc malloc's own account (``runtime.c_heap``; ``null`` off glibc): what
RocksDB, librdkafka and Python hold, and what malloc keeps after they freed it.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import orjson

from ..clock import now_ms
from . import c_heap


def worker_status(worker) -> dict:
    processors = worker.processors
    invoker = worker.invoker
    return {
        "worker": worker.worker_id,
        "at": now_ms(),
        "partitions": {
            str(p): {
                "phase": proc.phase.name.lower(),
                "applied": proc.applied,
                "replayed_from": proc.replayed_from,
                "replay_s": proc.replay_s,
            }  # fmt: skip
            for p, proc in sorted(processors.items())
        },
        "runs": {
            "in_memory": invoker.running(),
            "idle": len(invoker.idle_runs),
            "idle_limit": invoker.idle_runs.capacity,
            "limit": invoker.max_runs_in_memory,
            "deferred": invoker.deferred(),
            "deferred_on_disk": invoker.start_queue.on_disk(),
            "deferred_memory_limit": invoker.start_queue.max_in_memory,
        },
        "outcomes_awaited": sum(proc.outcomes_awaited() for proc in processors.values()),
        "timers_in_flight": sum(proc.timers.in_flight() for proc in processors.values()),
        "appends_in_flight": worker.log.appends_in_flight(),
        "store": {
            **dataclasses.asdict(worker.store_memory.figures()),
            "table_readers_bytes": sum(proc.store.table_readers_bytes() for proc in processors.values()),
        },
        "python": {"allocated_blocks": sys.getallocatedblocks()},  # pymalloc's live objects
        "c_heap": c_heap.figures(),
    }


def write_status_file(path: Path, status: dict) -> None:
    """Write ``status`` to ``path`` atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(f".{path.name}.{os.getpid()}")
    aside.write_bytes(orjson.dumps(status, option=orjson.OPT_INDENT_2))
    os.replace(aside, path)
