"""W3's process on the embedded log: log, worker and client in one process (the embedded
log is single-process), which the harness kills with ``kill -9`` and starts again.

    python -m benchmarks.w3_driver DATA_DIR NAMESPACE EFFECTS_FILE [--count 500] [--concurrency 64]
        [--partitions 4] [--worker-id ID]

Invokes ``bench_w3`` as ``w3-0`` .. ``w3-<count-1>``, at most ``concurrency`` in flight,
waits for every result, prints one JSON line and exits. Started again on the same data
dir after a kill, it invokes the same ids again: the journal deduplicates them by
execution id, the worker resumes what was left, and the client waits for every result.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from engine import Client, EmbeddedLog, Worker

from .apps import bench_w3

RESULT_TIMEOUT = 300.0


async def drive(args) -> dict:
    started_at = time.time()
    log = EmbeddedLog(args.data_dir, args.namespace, partitions=args.partitions)
    await log.start()
    worker = await Worker(log, data_dir=args.data_dir, worker_id=args.worker_id).start()
    client = Client(log)
    limit = asyncio.Semaphore(args.concurrency)

    async def one(i: int):
        async with limit:
            handle = await bench_w3.invoke(client, {"effects": args.effects}, execution_id=f"w3-{i}")
            return await handle.result(timeout=RESULT_TIMEOUT)

    try:
        results = await asyncio.gather(*(one(i) for i in range(args.count)))
        all_done_at = time.time()
    finally:
        await client.close()
        await worker.stop()
        await log.close()
    return {"started_at": started_at, "all_done_at": all_done_at, "results_ok": sum(1 for r in results if r == 3)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.w3_driver")
    p.add_argument("data_dir")
    p.add_argument("namespace")
    p.add_argument("effects")
    p.add_argument("--count", type=int, default=500)
    p.add_argument("--concurrency", type=int, default=64)
    p.add_argument("--partitions", type=int, default=4)
    p.add_argument("--worker-id")
    args = p.parse_args(argv)
    print(json.dumps(asyncio.run(drive(args))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
