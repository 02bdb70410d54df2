"""REPLAY: export and debug-replay a long run (issue #19).

One repetition, on a fresh namespace: ``bench_long`` (``benchmarks/apps.py``) runs
``--replay-steps`` sequential steps (default 10,000) on the worker. Then, timed:

1. ``history_s``: ``client.history(id)``: every record of the run, read and folded from
   the log (a history of ``steps + 4`` records);
2. ``export_s``: ``engine.replay.export_history``, the history file made and written out,
   and read back (``load_history``);
3. ``replay_s``: ``Replayer().replay(history)`` in the harness: the workflow's code runs
   again, every step answered from the history (no log, no worker). Its verdict must
   be ``ok``. **steps_per_s** = steps / ``replay_s``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from engine.replay import Replayer, export_history, load_history

from ..apps import bench_long
from ..envs import session
from . import Metric, Workload, register

RESULT_TIMEOUT = 600.0


async def run(env, params: dict) -> dict[str, float]:
    steps = params["steps"]
    async with session(env, "replay") as s:
        client = s.client
        handle = await bench_long.invoke(client, {"steps": steps})
        if await s.guard(handle.result(timeout=RESULT_TIMEOUT)) != steps:
            raise AssertionError(f"bench_long ran {steps} steps to a wrong result")
        t0 = time.perf_counter()
        records = await client.history(handle.execution_id)
        history_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="logloom-bench-replay-") as tmp:
            path = Path(tmp) / "run.json"
            path.write_bytes((await export_history(client, handle.execution_id)).dumps())
            size_mb = path.stat().st_size / 1e6
            history = load_history(path)
        export_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = await Replayer().replay(history)
    replay_s = time.perf_counter() - t0
    if not result.ok or result.steps_replayed != steps:
        raise AssertionError(f"replay of bench_long: {result.verdict}: {result.message}")
    return {
        "records": float(len(records)),
        "history_s": history_s,
        "export_s": export_s,
        "file_mb": size_mb,
        "replay_s": replay_s,
        "steps_per_s": steps / replay_s,
    }


def variants(args) -> list[dict]:
    return [{"steps": args.replay_steps}]


register(
    Workload(
        name="replay",
        summary="a run of N steps: its history read, exported, and debug-replayed offline",
        metrics=(
            Metric("steps_per_s", "debug-replay: recorded steps answered per second", "steps/s", "higher"),
            Metric("replay_s", "debug-replay of the whole run", "s", "lower"),
            Metric("history_s", "client.history of the run", "s", "lower"),
            Metric("export_s", "history file written and read back", "s", "lower"),
            Metric("records", "records in the run's history", ""),
            Metric("file_mb", "history file size", "MB"),
        ),
        run=run,
        variants=variants,
    )
)
