"""Verified rebuild: prove that a partition's store is exactly what its log says.

``verify_partition(log, partition, store_path, scratch_dir)``:

1. Open the live store read-only: a consistent view as of now, even while its worker
   writes to it. Its applied offset ``A`` is where the comparison happens.
2. Fold the partition from offset 0 up to ``A`` into a scratch store with the fold a
   worker uses (``rebuild.rebuild_partition``). A scratch store kept from an earlier
   check folds only the tail.
3. Walk both stores in key order: a SHA-256 over every key and value of each, and the
   first key where they differ, with both values decoded.
4. If they differ and the live store has moved on since step 1, check again at its new
   offset (up to ``attempts`` times): a view opened while a batch was being written is
   never trusted alone.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path

import orjson

from ..errors import NotFoundError
from ..log.base import Log
from ..store import StorePartition
from .rebuild import rebuild_partition


@dataclass
class VerifyResult:
    partition: int
    offset: int  # the applied offset both stores were compared at
    keys: int  # in the live store
    checksum: str  # SHA-256 of the live store's keys and values, in key order
    equal: bool
    first_difference: dict | None  # {key, live, rebuilt}: the values decoded, None where absent
    records_folded: int  # by the rebuild (0 when the scratch store was up to date)
    seconds: float


def _shown(raw: bytes | None):
    if raw is None:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return raw.hex()  # the applied offset, or a value that is not JSON (corrupt)


def _key(key: bytes) -> str:
    return key.decode("utf-8", "backslashreplace").replace("\x00", "\\0")


def compare(live: StorePartition, rebuilt: StorePartition) -> tuple[str, int, dict | None]:
    """The live store's checksum, its key count, and the first difference (or None): a
    merge of the two stores' keys, in order."""
    digest = hashlib.sha256()
    keys = 0
    first = None
    ours, theirs = live.items(), rebuilt.items()
    a, b = next(ours, None), next(theirs, None)
    while a is not None or b is not None:
        differs = None
        if b is None or (a is not None and a[0] < b[0]):  # only in the live store
            differs = {"key": _key(a[0]), "live": _shown(a[1]), "rebuilt": None}
        elif a is None or b[0] < a[0]:  # only in the rebuilt one
            differs = {"key": _key(b[0]), "live": None, "rebuilt": _shown(b[1])}
            b = next(theirs, None)
            first = first or differs
            continue
        elif a[1] != b[1]:
            differs = {"key": _key(a[0]), "live": _shown(a[1]), "rebuilt": _shown(b[1])}
        if b is not None and a[0] == b[0]:
            b = next(theirs, None)
        digest.update(len(a[0]).to_bytes(4, "big") + a[0] + len(a[1]).to_bytes(4, "big") + a[1])
        keys += 1
        a = next(ours, None)
        first = first or differs
    return digest.hexdigest(), keys, first


async def verify_partition(
    log: Log, partition: int, store_path: str | os.PathLike, scratch_dir: str | os.PathLike, *, attempts: int = 3
) -> VerifyResult:
    """Rebuild ``partition`` beside its live store and compare them (the module docstring)."""
    store_path = Path(store_path)
    if not (store_path / "CURRENT").exists():
        raise NotFoundError(
            f"no store of partition {partition} at {store_path}: no worker with this data dir has owned it "
            f"(verify runs where a worker keeps its stores: the same --data-dir)"
        )
    started = time.perf_counter()
    scratch = Path(scratch_dir) / str(partition)
    folded = 0
    for _ in range(attempts):
        live = StorePartition(store_path, read_only=True)  # 1.
        try:
            offset = live.applied_offset()
            end = await log.end_offset(partition)
            if offset + 1 > end:
                raise NotFoundError(f"the store of partition {partition} is at offset {offset}, past the log's end")
            folded += await rebuild_partition(log, partition, scratch, stop=offset + 1)  # 2.
            rebuilt = StorePartition(scratch)
            try:
                checksum, keys, first = compare(live, rebuilt)  # 3.
            finally:
                rebuilt.close()
        finally:
            live.close()
        if first is None:
            break
        again = StorePartition(store_path, read_only=True)  # 4.
        try:
            moved = again.applied_offset() != offset
        finally:
            again.close()
        if not moved:
            break
    return VerifyResult(
        partition=partition,
        offset=offset,
        keys=keys,
        checksum=checksum,
        equal=first is None,
        first_difference=first,
        records_folded=folded,
        seconds=time.perf_counter() - started,
    )
