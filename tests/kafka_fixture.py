"""Provide a real Kafka broker for integration tests.

`provide_kafka()` picks, in order:
  1. $LOGLOOM_KAFKA_BOOTSTRAP, if set -- an already running broker (nothing to clean up);
  2. a testcontainers KafkaContainer (KRaft), if a Docker engine answers;
  3. a local broker from Maven Central jars (deploy/kafka/kafka_local.py; needs Java + Maven),
     in a temp data dir.

Use it from a (session- or module-scoped) pytest fixture:

    bootstrap, cleanup = provide_kafka()
    try:
        yield bootstrap
    finally:
        cleanup()
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

KAFKA_LOCAL = Path(__file__).resolve().parents[1] / "deploy" / "kafka" / "kafka_local.py"

# Broker settings a one-node cluster needs (see deploy/kafka/kafka_local.py).
CONTAINER_ENV = {
    "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR": "1",
    "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR": "1",
    "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR": "1",
    "KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS": "0",
    "KAFKA_GROUP_MIN_SESSION_TIMEOUT_MS": "1000",
    "KAFKA_AUTO_CREATE_TOPICS_ENABLE": "false",
}


def _log(msg: str) -> None:
    print(f"[kafka_fixture] {msg}", file=sys.stderr, flush=True)


def provide_kafka() -> tuple[str, Callable[[], None]]:
    """Return (bootstrap servers, cleanup). Calling cleanup more than once is harmless."""
    env = os.environ.get("LOGLOOM_KAFKA_BOOTSTRAP")
    if env:
        _log(f"using LOGLOOM_KAFKA_BOOTSTRAP={env}")
        return env, lambda: None
    if _docker_available():
        return _start_container()
    return _start_local()


def _docker_available() -> bool:
    """True if testcontainers is installed and a Docker engine answers within 5 s."""
    try:
        from testcontainers.core.docker_client import DockerClient
    except ImportError:
        return False
    try:
        DockerClient(timeout=5).client.ping()
    except Exception:
        return False
    return True


def _start_container() -> tuple[str, Callable[[], None]]:
    try:
        from testcontainers.community.kafka import KafkaContainer
    except ImportError:  # testcontainers < 4.14
        from testcontainers.kafka import KafkaContainer

    container = KafkaContainer().with_kraft()
    for key, value in CONTAINER_ENV.items():
        container.with_env(key, value)
    _log(f"Docker is available: starting testcontainers KafkaContainer ({container.image}, KRaft)")
    container.start(timeout=120)
    bootstrap = container.get_bootstrap_server()
    _log(f"container broker ready at {bootstrap}")
    return bootstrap, _once(container.stop)


def _load_kafka_local():
    """Import deploy/kafka/kafka_local.py by path (deploy/ is not a package)."""
    name = "logloom_kafka_local"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, KAFKA_LOCAL)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {KAFKA_LOCAL}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses need the module registered
    spec.loader.exec_module(module)
    return module


def _start_local() -> tuple[str, Callable[[], None]]:
    kafka_local = _load_kafka_local()
    data_dir = Path(tempfile.mkdtemp(prefix="logloom-kafka-test-"))
    _log(f"no LOGLOOM_KAFKA_BOOTSTRAP and no Docker: starting local jar broker in {data_dir}")
    try:
        broker = kafka_local.start(data_dir)
    except BaseException:
        shutil.rmtree(data_dir, ignore_errors=True)
        raise
    _log(f"local broker ready at {broker.bootstrap} (pid {broker.pid})")

    def cleanup() -> None:
        broker.stop()
        shutil.rmtree(data_dir, ignore_errors=True)

    cleanup = _once(cleanup)
    atexit.register(cleanup)  # never leave a broker behind if the caller forgets
    return broker.bootstrap, cleanup


def _once(fn: Callable[[], None]) -> Callable[[], None]:
    done = False

    def wrapper() -> None:
        nonlocal done
        if not done:
            done = True
            fn()

    return wrapper
