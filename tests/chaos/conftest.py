"""Fixtures of the chaos tests.

After every chaos test that passed, each store its workers left behind (the live owner's
and the stale copies of earlier owners alike) is checked against the log it was folded
from: rebuilt from offset 0 up to its applied offset, it must be equal, key by key
(``engine.replay.verify``). A crash may leave a store behind the log; never beside it.
"""

from pathlib import Path

import pytest

from engine.replay.verify import verify_partition


@pytest.fixture
async def kafka_client(kafka_bootstrap, namespace):
    from engine import Client
    from engine.log.kafka import KafkaLog

    log = KafkaLog(kafka_bootstrap, namespace, 4)
    await log.start()
    client = Client(log)
    yield client
    await client.close()
    await log.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.passed_its_call = report.passed


def _stores(tmp_path: Path) -> list[Path]:
    """Partition stores under ``tmp_path``: ``<data-dir>/<namespace>/<partition>``, RocksDB."""
    return sorted(c.parent for c in tmp_path.rglob("CURRENT") if c.parent.name.isdigit())


@pytest.fixture(autouse=True)
async def stores_equal_their_log(request, tmp_path):
    yield
    if not getattr(request.node, "passed_its_call", False):
        return  # a failed test has said what went wrong; its processes may still hold the log
    stores = _stores(tmp_path)
    if not stores:
        return
    kafka = "kafka_bootstrap" in request.fixturenames
    logs = {}
    try:
        for store in stores:
            data_dir, namespace = store.parent.parent, store.parent.name
            if (data_dir, namespace) not in logs:
                if kafka:
                    from engine.log.kafka import KafkaLog

                    log = KafkaLog(request.getfixturevalue("kafka_bootstrap"), namespace, 4)
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
