"""Folding a batch of log entries into a partition store: decode, apply, commit with the offset."""

from __future__ import annotations

import logging
from collections.abc import Callable

from .. import fold
from ..errors import SchemaError
from ..fold.keys import dead_record_key
from ..log.base import Entry
from ..names import MAX_RECORD_BYTES
from ..wire.codec import Codec
from .partition import PartitionTransaction, StorePartition

log = logging.getLogger(__name__)


def fold_batch(
    store: StorePartition,
    codec: Codec,
    entries: list[Entry],
    applied: int,
    observe: Callable[[Entry, dict, list, PartitionTransaction], None] | None = None,
    on_dead: Callable[[Entry, str], None] | None = None,
) -> tuple[int, list]:
    """Fold records past ``applied`` into one transaction; commit it with the last offset.

    1. skip entries at or below ``applied`` (delivered again after a reassignment),
    2. decode each; one that cannot be decoded (or is over the journal's size limit) is
       kept with its reason under ``d/<offset>``, and handed to ``on_dead``, so one poison
       record never stops the partition,
    3. apply it to the transaction (and hand ``observe`` the entry, the record, its
       effects and the transaction, to read the rows it left),
    4. commit the transaction together with the last offset.

    Returns (last offset, the fold's effects).
    """
    tx = store.transaction()
    last, effects = fold_entries(tx, codec, entries, applied, observe, on_dead)
    if last != applied:
        tx.commit(last)
    return last, effects


def fold_entries(
    tx: fold.State,
    codec: Codec,
    entries: list[Entry],
    applied: int,
    observe: Callable[[Entry, dict, list, PartitionTransaction], None] | None = None,
    on_dead: Callable[[Entry, str], None] | None = None,
) -> tuple[int, list]:
    """Steps 1-3 of ``fold_batch`` into any state (a transaction, or an overlay that is
    never written); returns (last offset, the fold's effects)."""
    effects: list[fold.Effect] = []
    last = applied
    for entry in entries:
        if entry.offset <= last:
            continue
        last = entry.offset
        try:
            if len(entry.value) > MAX_RECORD_BYTES:
                raise SchemaError(
                    f"a record of {len(entry.value)} bytes, over the journal's limit of {MAX_RECORD_BYTES}"
                )
            record = codec.decode(entry.value)
        except SchemaError as exc:
            log.error(
                "partition %d offset %d: skipping a record that cannot be decoded: %s",
                entry.partition,
                entry.offset,
                exc,
            )
            tx.put(
                dead_record_key(entry.offset),
                {"offset": entry.offset, "reason": str(exc), "key": entry.key.decode(errors="replace")},
            )
            if on_dead is not None:
                on_dead(entry, str(exc))
            continue
        made = fold.apply(tx, record)
        if observe is not None:
            observe(entry, record, made, tx)
        effects.extend(made)
    return last, effects
