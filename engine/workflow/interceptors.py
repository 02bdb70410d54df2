"""Workflow hooks: what an interceptor sees of the journal, and the protocol it implements.

A worker calls each interceptor given to it (``Worker(log, interceptors=[...])``) with
every journal record it folds LIVE for a partition it owns, in log order:

1. the record is decoded and folded into the partition's state (the same transaction
   that commits it with its offset),
2. the interceptor's ``on_record`` is called with a ``FoldedRecord``: the record, its
   partition and offset, its log timestamp, what the fold made of it, and a read-only
   view of the state as the fold left it,
3. the batch is committed; then the runtime acts on the fold's effects.

Records folded while a processor replays its partition at start-up (store to log end)
and while it claims it are not shown, so a restart or a handover shows nothing twice.
The price is a crash's window: records the dead owner appended but had not folded yet
are folded by the next owner in its replay, and shown by nobody. An interceptor that
emits something per record should derive it from the record alone (as tracing derives
its ids), so that a record shown again, by a hook that re-reads the log, is the same
thing. ``on_record`` runs on the worker's event loop, in the fold: it must not block
or raise (an exception is logged and the record goes on).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple, Protocol

from ..fold.effects import Effect


class StateView(Protocol):
    """Read-only: the partition's rows as the fold left them (``engine.fold.keys``)."""

    def get(self, key: bytes) -> dict | None: ...
    def scan(self, prefix: bytes) -> Iterator[tuple[bytes, dict]]: ...


class FoldedRecord(NamedTuple):  # a tuple: made once a record, the cheapest to build
    record: dict  # the decoded record (``engine.wire.records``), with its ``type``
    partition: int
    offset: int
    log_at_ms: int  # the log's timestamp of the record (ms since the epoch)
    effects: list[Effect]  # what the fold made of it (``FENCED``, ``DUPLICATE``... when it changed nothing)
    state: StateView  # valid only during the call


class Interceptor(Protocol):
    """What a workflow hook implements (``engine.observability.Tracing`` is one)."""

    def on_record(self, folded: FoldedRecord) -> None: ...
