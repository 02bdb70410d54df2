"""After a test that crashed workers: every store they left is what its log folds into.

Each store under the test's ``tmp_path`` (the live owner's and the stale copies of
earlier owners alike) is rebuilt from offset 0 up to its applied offset and compared
with it, key by key (``engine.replay.verify``). A crash may leave a store behind the log;
never beside it. Used by the chaos and the fault suites' conftests.
"""

from __future__ import annotations

from pathlib import Path

from engine.replay.verify import verify_partition


def stores_under(tmp_path: Path) -> list[Path]:
    """Partition stores under ``tmp_path``: ``<data-dir>/<namespace>/<partition>``, RocksDB."""
    return sorted(c.parent for c in tmp_path.rglob("CURRENT") if c.parent.name.isdigit())


async def verify_stores(tmp_path: Path, bootstrap: str | None, partitions: int = 4) -> int:
    """Check every store under ``tmp_path`` against its log (Kafka at ``bootstrap``, else
    the embedded log in its data dir); returns how many were checked."""
    logs = {}
    stores = stores_under(tmp_path)
    try:
        for store in stores:
            data_dir, namespace = store.parent.parent, store.parent.name
            if (data_dir, namespace) not in logs:
                if bootstrap is not None:
                    from engine.log.kafka import KafkaLog

                    log = KafkaLog(bootstrap, namespace, partitions)
                else:
                    from engine import EmbeddedLog

                    log = EmbeddedLog(data_dir, namespace, read_only=True)
                await log.start()
                logs[data_dir, namespace] = log
            log = logs[data_dir, namespace]
            scratch = tmp_path / "verify-scratch" / str(len(logs))
            result = await verify_partition(log, int(store.name), store, scratch)
            assert result.equal, f"the store {store} differs from its log at offset {result.offset}: " + str(
                result.first_difference
            )
    finally:
        for log in logs.values():
            await log.close()
    return len(stores)
