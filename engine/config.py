"""Configuration, parsed once at the edge (CLI, environment), frozen afterwards."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .errors import LogloomError
from .log.base import Log


class KafkaConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    bootstrap: str
    replication_factor: int = 1
    session_timeout_ms: int = 10_000
    instance_id: str | None = None
    producer: dict[str, Any] = Field(default_factory=dict, description="raw librdkafka producer options")
    consumer: dict[str, Any] = Field(default_factory=dict, description="raw librdkafka consumer options")


class EngineConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    namespace: str = "logloom"
    data_dir: Path = Path(".logloom")
    partitions: int | None = Field(None, description="fixed when the journal is created; default 4 embedded, 8 Kafka")
    kafka: KafkaConfig | None = None

    @classmethod
    def from_env(cls, **overrides) -> EngineConfig:
        """Defaults from the environment, then explicit overrides.

        LOGLOOM_NAMESPACE, LOGLOOM_DATA_DIR, LOGLOOM_PARTITIONS, LOGLOOM_KAFKA (bootstrap),
        LOGLOOM_KAFKA_SESSION_TIMEOUT_MS, LOGLOOM_KAFKA_REPLICATION_FACTOR, LOGLOOM_KAFKA_INSTANCE_ID,
        and LOGLOOM_KAFKA_PRODUCER / LOGLOOM_KAFKA_CONSUMER: raw librdkafka options as a JSON
        object, e.g. ``{"linger.ms": 1}``.
        """
        values: dict[str, Any] = {}
        if "LOGLOOM_NAMESPACE" in os.environ:
            values["namespace"] = os.environ["LOGLOOM_NAMESPACE"]
        if "LOGLOOM_DATA_DIR" in os.environ:
            values["data_dir"] = os.environ["LOGLOOM_DATA_DIR"]
        if "LOGLOOM_PARTITIONS" in os.environ:
            values["partitions"] = int(os.environ["LOGLOOM_PARTITIONS"])
        instance_id = overrides.pop("instance_id", None) or os.environ.get("LOGLOOM_KAFKA_INSTANCE_ID")
        values.update({k: v for k, v in overrides.items() if v is not None})
        bootstrap = values.get("kafka") or os.environ.get("LOGLOOM_KAFKA")
        if isinstance(bootstrap, str):
            kafka: dict[str, Any] = {"bootstrap": bootstrap, "instance_id": instance_id}
            if "LOGLOOM_KAFKA_SESSION_TIMEOUT_MS" in os.environ:
                kafka["session_timeout_ms"] = int(os.environ["LOGLOOM_KAFKA_SESSION_TIMEOUT_MS"])
            if "LOGLOOM_KAFKA_REPLICATION_FACTOR" in os.environ:
                kafka["replication_factor"] = int(os.environ["LOGLOOM_KAFKA_REPLICATION_FACTOR"])
            for side in ("producer", "consumer"):
                name = f"LOGLOOM_KAFKA_{side.upper()}"
                if os.environ.get(name):
                    kafka[side] = _options(name, os.environ[name])
            values["kafka"] = KafkaConfig(**kafka)
        return cls(**values)


def _options(name: str, text: str) -> dict[str, Any]:
    try:
        options = json.loads(text)
    except ValueError as exc:
        raise LogloomError(f"{name} is not JSON: {exc}") from None
    if not isinstance(options, dict):
        raise LogloomError(f'{name} must be a JSON object of librdkafka options, like {{"linger.ms": 1}}')
    return options


def open_log(config: EngineConfig, *, read_only: bool = False) -> Log:
    """The log a config names: Kafka when ``kafka`` is set, else the embedded log. Not started."""
    if config.kafka is not None:
        from .log.kafka import KafkaLog

        k = config.kafka
        return KafkaLog(
            k.bootstrap,
            config.namespace,
            config.partitions or 8,
            replication_factor=k.replication_factor,
            session_timeout_ms=k.session_timeout_ms,
            instance_id=k.instance_id,
            producer_config=k.producer,
            consumer_config=k.consumer,
        )
    from .log.embedded import EmbeddedLog

    return EmbeddedLog(config.data_dir, config.namespace, config.partitions or 4, read_only=read_only)


async def connect_log(config: EngineConfig, *, need_worker: bool = False, read_only: bool = False) -> Log:
    """A started log for the CLI and tools.

    On the embedded log: opened directly when no other process holds it; otherwise,
    unless a worker must run here, through the owner's local API (``log/local_api.py``).
    ``read_only`` opens a snapshot that needs no lock, for history and listings.
    """
    log = open_log(config, read_only=read_only)
    try:
        await log.start()
        return log
    except LogloomError as exc:
        if config.kafka is not None or need_worker or "in use" not in str(exc):
            raise
    from .log.local_api import RemoteEmbeddedLog

    remote = RemoteEmbeddedLog(log.path, config.namespace)
    await remote.start()
    return remote
