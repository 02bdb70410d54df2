"""A fault test's world: its namespace, a client, the effects file, workers and load."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path

from cluster import Load, Workers
from store_checks import verify_stores

from engine import Client
from engine.log.kafka import KafkaLog


@dataclass
class FaultWorld:
    bootstrap: str
    namespace: str
    client: Client
    effects: Path
    workers: Workers
    soak: bool

    def load(self, in_flight: int = 16) -> Load:
        return Load(self.client, self.effects, in_flight).start()

    async def under_load(self, *names: str) -> Load:
        """Start the workers ``names``, wait until they own the partitions, start the load
        and wait for its first 50 runs: the state every fault begins from."""
        for name in names:
            self.workers.start(name)
        await self.workers.until_ready(*names)
        load = self.load()
        await load.until_completed(50)
        return load

    def rounds(self, ci: int, soak: int) -> int:
        return soak if self.soak else ci


async def open_world(request, tmp_path: Path, bootstrap: str):
    namespace = f"f{uuid.uuid4().hex[:10]}"
    log = KafkaLog(bootstrap, namespace, 4, session_timeout_ms=1500)
    await log.start()
    client = Client(log)
    workers = Workers(tmp_path, bootstrap, namespace)
    world = FaultWorld(
        bootstrap, namespace, client, tmp_path / "effects.log", workers, request.config.getoption("--soak")
    )
    try:
        yield world
    finally:
        workers.stop_all()
        await client.close()
        await log.close()
    if getattr(request.node, "passed_its_call", False):
        await verify_stores(tmp_path, bootstrap)
