"""What every command shares: exit codes, JSON output, common options, and a started engine."""

from __future__ import annotations

import argparse
import contextlib
import json
from typing import Any

from ..client import Client
from ..config import EngineConfig, connect_log
from ..runtime.worker import Worker

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOT_FOUND, EXIT_TIMEOUT = 0, 1, 2, 3, 4


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, default=str))


def add_common_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--kafka", metavar="HOST:PORT", help="use a Kafka cluster (default: the embedded log)")
    p.add_argument("--namespace", help="journal namespace (default logloom)")
    p.add_argument("--data-dir", help="local state directory (default ./.logloom)")
    p.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")


def config_from(args) -> EngineConfig:
    return EngineConfig.from_env(
        namespace=args.namespace,
        data_dir=args.data_dir,
        partitions=getattr(args, "partitions", None),
        kafka=args.kafka,
        instance_id=getattr(args, "instance_id", None),
    )


@contextlib.asynccontextmanager
async def engine(args, *, worker: bool, read_only: bool = False):
    """A started log and client, and with ``worker`` a worker on it; stopped afterwards."""
    config = config_from(args)
    log = await connect_log(config, need_worker=worker, read_only=read_only)
    running = None
    try:
        if worker:
            cache = {
                name: getattr(args, name)
                for name in ("max_idle_runs", "evict_after_idle_s")
                if getattr(args, name, None) is not None
            }
            running = await Worker(
                log, data_dir=config.data_dir, worker_id=getattr(args, "worker_id", None), **cache
            ).start()
        async with Client(log) as client:
            yield client, running
    finally:
        if running is not None:
            await running.stop()
        await log.close()
