"""Where listings read the run index from, so that none of them reads the whole log.

- On the embedded log: the workers' stores in ``--data-dir``, read-only, with the
  records they have not folded yet laid over them (``client/worker_stores.py``).
- On Kafka, the workers' stores are on their own machines. The CLI keeps a store of its
  own (``--store-dir``, by default in ``$XDG_CACHE_HOME/logloom/index/<cluster id>``):
  the first listing folds the log into it, every later one only what is new. It is a
  cache: deleting it loses nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
from pathlib import Path

from ..client import Client
from ..config import connect_log
from ..errors import StoreAheadOfLogError
from .common import config_from, note


def add_index_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--store-dir",
        metavar="DIR",
        help="Kafka: the CLI's own store of the run index, folded from the log, only what is new each time "
        "(default: $XDG_CACHE_HOME/logloom/index/<cluster id>)",
    )


def default_index_dir(cluster_id: str) -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "logloom" / "index" / cluster_id


@contextlib.asynccontextmanager
async def listing_engine(args):
    """A started log and a client that lists from a run index (the module docstring)."""
    config = config_from(args)
    log = await connect_log(config, read_only=config.kafka is None)
    try:
        store_dir = getattr(args, "store_dir", None)
        if store_dir is None and config.kafka is None:
            async with Client(log, worker_data_dir=config.data_dir) as client:
                yield client
            return
        store_dir = Path(store_dir or default_index_dir(log.cluster_id or "unknown"))
        if not (store_dir / log.namespace).exists():
            note(f"folding the log into the CLI's run index at {store_dir} (later listings fold only what is new)")
        async with _StoreClient(log, store_dir) as client:
            yield client
    finally:
        await log.close()


class _StoreClient:
    """A client with a store, made again once if its store is not this log's."""

    def __init__(self, log, store_dir: Path):
        self.log = log
        self.store_dir = store_dir
        self.client: Client | None = None

    async def __aenter__(self) -> Client:
        self.client = Client(self.log, store_dir=self.store_dir)
        try:
            await self.client.live.current()
        except StoreAheadOfLogError as exc:
            note(f"{exc}: folding it again")
            await self.client.close()
            shutil.rmtree(self.store_dir / self.log.namespace, ignore_errors=True)
            self.client = Client(self.log, store_dir=self.store_dir)
        return self.client

    async def __aexit__(self, *exc) -> None:
        await self.client.close()
