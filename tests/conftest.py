"""Test harness: every behavioural test runs on both logs, on a real Kafka broker.

* ``--log embedded|kafka|both`` (or ``LOGLOOM_TEST_LOGS``) picks the logs; default both.
* The broker comes from ``tests/kafka_fixture.provide_kafka``: an existing cluster
  (``LOGLOOM_KAFKA_BOOTSTRAP``), testcontainers when Docker answers, else a local
  single-node KRaft broker started from Maven Central jars.
* With ``CI=true`` Kafka tests never skip: choosing a subset of logs is an error there.
"""

from __future__ import annotations

import os
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from helpers import EngineHarness  # noqa: E402
from kafka_fixture import provide_kafka  # noqa: E402

ALL_LOGS = ["embedded", "kafka"]


def pytest_addoption(parser):
    parser.addoption(
        "--soak",
        action="store_true",
        default=os.environ.get("LOGLOOM_FAULT_SOAK") == "1",
        help="the fault suite (tests/faults) runs longer, with more rounds (outside CI)",
    )
    parser.addoption(
        "--log",
        choices=["embedded", "kafka", "both"],
        default=os.environ.get("LOGLOOM_TEST_LOGS", "both"),
        help="which log the behavioural tests run on",
    )


@pytest.fixture(scope="session", autouse=True)
def _cli_caches(tmp_path_factory):
    """The CLI's caches (its Kafka run index) go to a directory of this run, not ~/.cache."""
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("cache"))


def _selected_logs(config) -> list[str]:
    choice = config.getoption("--log")
    logs = ALL_LOGS if choice == "both" else [choice]
    if os.environ.get("CI") == "true" and logs != ALL_LOGS:
        raise pytest.UsageError("CI=true runs every test on both logs; do not narrow --log in CI")
    return logs


def pytest_generate_tests(metafunc):
    if "log_kind" in metafunc.fixturenames:
        metafunc.parametrize("log_kind", _selected_logs(metafunc.config))


@pytest.fixture(scope="session")
def kafka_bootstrap():
    bootstrap, cleanup = provide_kafka()
    try:
        yield bootstrap
    finally:
        cleanup()


@pytest.fixture
def namespace() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def kafka_if_needed(request, log_kind):
    return request.getfixturevalue("kafka_bootstrap") if log_kind == "kafka" else None


@pytest.fixture
async def harness(log_kind, kafka_if_needed, tmp_path, namespace):
    """A started log, worker and client, on the log under test."""
    h = EngineHarness(log_kind, tmp_path, namespace, kafka_if_needed)
    try:
        yield h
    finally:
        await h.close()
