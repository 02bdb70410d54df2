"""Fixtures of the fault suite: a steady load on real worker processes on Kafka.

Each test gets ``fault`` (``FaultWorld``): its namespace, a client, the effects file,
the workers (``cluster.Workers``) and the load (``cluster.Load``). After a test that
passed, every store its workers left is checked against the log (``store_checks``).
``--soak`` (or ``LOGLOOM_FAULT_SOAK=1``) runs each scenario for more rounds.
"""

from __future__ import annotations

import pytest
from world import open_world


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.when == "call":
        item.passed_its_call = report.passed


@pytest.fixture
async def fault(request, tmp_path, kafka_bootstrap):
    async for world in open_world(request, tmp_path, kafka_bootstrap):
        yield world
