"""Fixtures of the chaos tests.

After every chaos test that passed, each store its workers left behind (the live owner's
and the stale copies of earlier owners alike) is checked against the log it was folded
from: rebuilt from offset 0 up to its applied offset, it must be equal, key by key
(``engine.replay.verify``). A crash may leave a store behind the log; never beside it.
"""

import pytest
from store_checks import verify_stores


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


@pytest.fixture(autouse=True)
async def stores_equal_their_log(request, tmp_path):
    yield
    if not getattr(request.node, "passed_its_call", False):
        return  # a failed test has said what went wrong; its processes may still hold the log
    bootstrap = request.getfixturevalue("kafka_bootstrap") if "kafka_bootstrap" in request.fixturenames else None
    await verify_stores(tmp_path, bootstrap)
