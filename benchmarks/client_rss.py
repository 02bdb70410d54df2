"""``python -m benchmarks.client_rss``: RSS of one process (embedded worker and client)
running 40,000 W1 workflows, 64 in flight, printed after each 5,000, with the client's
``live.sizes()`` at the end. The measurement of issue #17's "4.5 KB per finished run,
never returned"; the ``mem`` and ``soak`` workloads are to replace it."""

import asyncio
import tempfile

from engine import Client, EmbeddedLog, Worker

from .apps import bench_w1

BATCH = 5000
BATCHES = 8
IN_FLIGHT = 64


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


async def _one(client: Client, limit: asyncio.Semaphore, x: int) -> int:
    async with limit:
        handle = await bench_w1.invoke(client, {"x": x})
        return await handle.result(timeout=120)


async def main() -> None:
    with tempfile.TemporaryDirectory() as data_dir:
        async with EmbeddedLog(data_dir, "rss", 4) as log, Worker(log, data_dir=data_dir), Client(log) as client:
            out = [round(rss_mb())]
            limit = asyncio.Semaphore(IN_FLIGHT)
            for batch in range(BATCHES):
                await asyncio.gather(*(_one(client, limit, batch * BATCH + i) for i in range(BATCH)))
                out.append(round(rss_mb()))
            print(f"RSS MB after each {BATCH:,}:", out, "client.live.sizes():", client.live.sizes())


if __name__ == "__main__":
    asyncio.run(main())
