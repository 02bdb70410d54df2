"""Configuration, parsed once at the edge (CLI, environment), frozen afterwards."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .errors import LogInUseError, LogloomError
from .log.base import Log


def default_data_dir() -> Path:
    """Where local state goes unless told: ``$LOGLOOM_DATA_DIR``, else the per-user data
    directory ``$XDG_DATA_HOME/logloom`` (``~/.local/share/logloom``), never the working
    directory (a mistyped path there would make a new, empty log)."""
    if os.environ.get("LOGLOOM_DATA_DIR"):
        return Path(os.environ["LOGLOOM_DATA_DIR"])
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "logloom"


class KafkaConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    bootstrap: str
    replication_factor: int = 1
    session_timeout_ms: int = Field(1_500, description="a dead worker's partitions move after this long")
    instance_id: str | None = None
    connect_timeout_s: float = Field(5.0, description="first contact with the cluster fails after this long")
    producer: dict[str, Any] = Field(default_factory=dict, description="raw librdkafka producer options")
    consumer: dict[str, Any] = Field(default_factory=dict, description="raw librdkafka consumer options")


class EngineConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    namespace: str = "logloom"
    data_dir: Path = Field(default_factory=default_data_dir)
    partitions: int | None = Field(None, description="fixed when the journal is created; default 4 embedded, 8 Kafka")
    kafka: KafkaConfig | None = None
    store_cache_mb: int = Field(64, gt=0, description="a worker's RocksDB block cache, shared by its stores")
    store_write_buffer_mb: int = Field(32, gt=0, description="a worker's memtables, all stores, within the cache")

    @classmethod
    def from_env(cls, **overrides) -> EngineConfig:
        """Defaults from the environment, then explicit overrides.

        LOGLOOM_NAMESPACE, LOGLOOM_DATA_DIR, LOGLOOM_PARTITIONS, LOGLOOM_KAFKA (bootstrap),
        LOGLOOM_KAFKA_SESSION_TIMEOUT_MS, LOGLOOM_KAFKA_REPLICATION_FACTOR, LOGLOOM_KAFKA_INSTANCE_ID,
        LOGLOOM_KAFKA_CONNECT_TIMEOUT_S, LOGLOOM_KAFKA_PRODUCER / LOGLOOM_KAFKA_CONSUMER: raw
        librdkafka options as a JSON object, e.g. ``{"linger.ms": 1}``, and
        LOGLOOM_STORE_CACHE_MB / LOGLOOM_STORE_WRITE_BUFFER_MB: a worker's RocksDB memory.
        """
        values: dict[str, Any] = {}
        for name in ("store_cache_mb", "store_write_buffer_mb"):
            if os.environ.get(f"LOGLOOM_{name.upper()}"):
                values[name] = int(os.environ[f"LOGLOOM_{name.upper()}"])
        if "LOGLOOM_NAMESPACE" in os.environ:
            values["namespace"] = os.environ["LOGLOOM_NAMESPACE"]
        if "LOGLOOM_DATA_DIR" in os.environ:
            values["data_dir"] = os.environ["LOGLOOM_DATA_DIR"]
        if "LOGLOOM_PARTITIONS" in os.environ:
            values["partitions"] = int(os.environ["LOGLOOM_PARTITIONS"])
        instance_id = overrides.pop("instance_id", None) or os.environ.get("LOGLOOM_KAFKA_INSTANCE_ID")
        connect_timeout_s = overrides.pop("connect_timeout_s", None) or os.environ.get(
            "LOGLOOM_KAFKA_CONNECT_TIMEOUT_S"
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        bootstrap = values.get("kafka") or os.environ.get("LOGLOOM_KAFKA")
        if isinstance(bootstrap, str):
            kafka: dict[str, Any] = {"bootstrap": bootstrap, "instance_id": instance_id}
            if connect_timeout_s is not None:
                kafka["connect_timeout_s"] = float(connect_timeout_s)
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


def open_log(config: EngineConfig, *, read_only: bool = False, create: bool = True) -> Log:
    """The log a config names: Kafka when ``kafka`` is set, else the embedded log. Not started.

    ``create=False``: the log (the Kafka journal topic, the embedded log's directory) must
    exist; starting it raises ``LogNotFoundError`` otherwise."""
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
            connect_timeout_s=k.connect_timeout_s,
            create=create,
        )
    from .log.embedded import EmbeddedLog

    return EmbeddedLog(config.data_dir, config.namespace, config.partitions or 4, read_only=read_only, create=create)


async def connect_log(
    config: EngineConfig, *, need_worker: bool = False, read_only: bool = False, create: bool | None = None
) -> Log:
    """A started log for the CLI and tools.

    On the embedded log: opened directly when no other process holds it; otherwise,
    unless a worker must run here, through the owner's local API (``log/local_api.py``).
    ``read_only`` opens a snapshot that needs no lock, for history and listings. Only a
    log that hosts a worker is created by default (``create``): a command that reads, or
    appends for a worker elsewhere, never makes a new log where it was mistyped.
    """
    log = open_log(config, read_only=read_only, create=need_worker if create is None else create)
    try:
        await log.start()
        return log
    except LogInUseError:
        if config.kafka is not None or need_worker:
            raise
    from .log.local_api import RemoteEmbeddedLog

    remote = RemoteEmbeddedLog(log.path, config.namespace)
    await remote.start()
    return remote
