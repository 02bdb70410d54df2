"""What a client reads about the workers: who is connected, what they run, and where each
partition stands.

Three sources, each the truth for its part:

1. Workers' announcements (``WorkerAnnounced`` on partition 0, folded to ``w/<worker>``):
   what each worker runs. Old ones stay; a worker is *connected* only if it is a member
   of the worker group now (``Log.members``).
2. Claims (``PartitionClaimed``, folded to the partition's epoch): each partition's owner.
3. The worker group's committed offsets: how far each owner has folded its partitions,
   reported every few seconds (``Worker.PROGRESS_EVERY_S``); with the end offset, the lag.
"""

from __future__ import annotations

import asyncio

from .. import names
from ..clock import to_datetime
from ..fold.keys import EPOCH_KEY, WORKERS_PREFIX
from .models import PartitionInfo, RegisteredWorkflow, WorkerInfo
from .scans import JournalScans


def _connected(worker: str | None, members: list[str] | None) -> bool | None:
    if worker is None or members is None:
        return None
    return worker in members


class Cluster:
    def __init__(self, scans: JournalScans):
        self.scans = scans
        self.log = scans.log

    async def workers(self) -> list[WorkerInfo]:
        """Every worker that announced itself, connected ones first, newest first."""
        state, _ = await self.scans.partition(names.ROUTER_PARTITION, names.WORKERS_KEY.encode(), stop=None)
        members = await self.log.members()
        out = [
            WorkerInfo(
                worker=row["worker"],
                connected=_connected(row["worker"], members),
                started_at=to_datetime(row["at"]),
                workflows=[RegisteredWorkflow(**wf) for wf in row["workflows"]],
            )
            for _, row in state.scan(WORKERS_PREFIX)
        ]
        return sorted(out, key=lambda w: (w.connected is not True, -(w.started_at.timestamp() if w.started_at else 0)))

    async def partitions(self) -> list[PartitionInfo]:
        """Each journal partition's owner, epoch, end offset and folded offset."""
        log = self.log
        committed, members = await asyncio.gather(
            log.committed(names.worker_group(log.namespace), names.journal_topic(log.namespace)), log.members()
        )
        return list(await asyncio.gather(*(self._partition(p, committed, members) for p in range(log.num_partitions))))

    async def _partition(self, partition: int, committed: dict[int, int], members: list[str] | None) -> PartitionInfo:
        end = await self.log.end_offset(partition)
        state, _ = await self.scans.partition(partition, names.PARTITION_KEY, stop=end)
        claim = state.get(EPOCH_KEY) or {}
        worker = claim["owner"].rpartition("/")[0] if claim else None  # owners are "<worker>/<incarnation>"
        return PartitionInfo(
            partition=partition,
            owner=worker,
            claimed_by=claim.get("owner"),
            owner_connected=_connected(worker, members),
            epoch=claim.get("epoch", 0),
            claimed_at=to_datetime(claim.get("at")),
            end=end,
            folded=committed.get(partition),
        )
