"""Listing executions from the run index of partition states, never from the log.

``workflow list``, ``workflow count`` and ``Client.list_executions`` ask a ``RunQuery``
of the states of every partition (a client's own stores, the workers' stores read
through an overlay, or states folded in memory). Each partition answers from the
narrowest index (``fold/run_index.py``):

1. an ended status: ``ix/s/<status>``, from ``since`` to ``until``;
2. a status of runs still going: the ``a/`` keys (the active runs only), sorted;
3. a workflow: ``ix/w/<workflow>``, from ``since`` to ``until``;
4. otherwise every run: the three ended statuses' ranges and the active runs, merged.

Only the rows the index names are read; the other filters are checked on them. The
partitions' answers are merged in (created, id) order, or newest first (the index read
backwards), and the merge stops once the page is full, so ``--limit 20`` reads about 20
rows whatever the log's length.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol

from ..fold import ACTIVE, ENDED
from ..fold.keys import (
    ACTIVE_PREFIX,
    created_bound,
    execution_key,
    parse_active_key,
    parse_run_index_key,
    run_status_prefix,
    run_workflow_prefix,
)

_FAR_FUTURE_MS = 10**16 - 1


class IndexedState(Protocol):
    def get(self, key: bytes) -> dict | None: ...
    def scan(self, prefix: bytes, start: bytes = b"") -> Iterator[tuple[bytes, dict]]: ...
    def scan_back(self, prefix: bytes, end: bytes) -> Iterator[tuple[bytes, dict]]: ...


@dataclass(frozen=True)
class RunQuery:
    """Which executions: every filter is optional; times are creation times in ms."""

    status: str | None = None
    workflow: str | None = None
    since_ms: int | None = None  # created at or after
    until_ms: int | None = None  # created before
    session_id: str | None = None
    user_id: str | None = None
    parent_id: str | None = None

    def admits(self, row: dict) -> bool:
        created = row["created_at"]
        return (
            (self.status is None or row["status"] == self.status)
            and (self.workflow is None or row["workflow"] == self.workflow)
            and (self.session_id is None or row["session_id"] == self.session_id)
            and (self.user_id is None or row["user_id"] == self.user_id)
            and (self.parent_id is None or row["parent_id"] == self.parent_id)
            and (self.since_ms is None or created >= self.since_ms)
            and (self.until_ms is None or created < self.until_ms)
        )


def select_rows(
    states: Iterable[IndexedState], query: RunQuery, *, after: str | None = None, newest_first: bool = False
) -> Iterator[dict]:
    """The rows ``query`` admits, over every partition, in (created, id) order (or its
    reverse), lazily: from the first, or after the execution ``after`` (a page token)."""
    states = list(states)
    after_position = None
    if after is not None:
        row = next((r for s in states if (r := s.get(execution_key(after))) is not None), None)
        if row is None:
            raise ValueError(f"page token {after!r} is not an execution of this namespace")
        after_position = (row["created_at"], after)
    if newest_first:
        bound = (_FAR_FUTURE_MS if query.until_ms is None else query.until_ms, "")  # rows before it
        bound = bound if after_position is None else min(bound, after_position)
        answers = [_rows_back(state, query, bound) for state in states]
        return heapq.merge(*answers, key=_position, reverse=True)
    start = (query.since_ms or 0, "")
    if after_position is not None:
        start = max(start, after_position)
    answers = [_rows_of(state, query, start, after is not None) for state in states]
    return heapq.merge(*answers, key=_position)


def _rows_of(state: IndexedState, query: RunQuery, start: tuple[int, str], exclusive: bool) -> Iterator[dict]:
    """One partition's admitted rows from ``start`` (a (created, id) position) on, in order."""
    if query.status in ACTIVE:
        return _active_rows(state, query, start, exclusive)
    if query.status in ENDED:
        return _indexed_rows(state, query, run_status_prefix(query.status), start, exclusive)
    if query.status is not None:
        return iter(())  # no such status: nothing
    if query.workflow is not None:
        return _indexed_rows(state, query, run_workflow_prefix(query.workflow), start, exclusive)
    every = [_indexed_rows(state, query, run_status_prefix(status), start, exclusive) for status in sorted(ENDED)]
    every.append(_active_rows(state, query, start, exclusive))
    return heapq.merge(*every, key=_position)


def _position(row: dict) -> tuple[int, str]:
    return row["created_at"], row["id"]


def _indexed_rows(
    state: IndexedState, query: RunQuery, prefix: bytes, start: tuple[int, str], exclusive: bool
) -> Iterator[dict]:
    until = _FAR_FUTURE_MS if query.until_ms is None else query.until_ms
    for key, _ in state.scan(prefix, created_bound(prefix, start[0])):
        position = parse_run_index_key(prefix, key)
        if position[0] >= until:
            return
        if position < start or (exclusive and position == start):
            continue
        row = state.get(execution_key(position[1]))
        if row is not None and query.admits(row):
            yield row


def _active_rows(state: IndexedState, query: RunQuery, start: tuple[int, str], exclusive: bool) -> Iterator[dict]:
    rows = []
    for key, _ in state.scan(ACTIVE_PREFIX):
        row = state.get(execution_key(parse_active_key(key)))
        if row is None or not query.admits(row):
            continue
        position = (row["created_at"], row["id"])
        if position > start or (position == start and not exclusive):
            rows.append(row)
    yield from sorted(rows, key=_position)


def _rows_back(state: IndexedState, query: RunQuery, bound: tuple[int, str]) -> Iterator[dict]:
    """One partition's admitted rows before ``bound`` (a (created, id) position), newest first."""
    if query.status in ACTIVE:
        return _active_rows_back(state, query, bound)
    if query.status in ENDED:
        return _indexed_rows_back(state, query, run_status_prefix(query.status), bound)
    if query.status is not None:
        return iter(())
    if query.workflow is not None:
        return _indexed_rows_back(state, query, run_workflow_prefix(query.workflow), bound)
    every = [_indexed_rows_back(state, query, run_status_prefix(status), bound) for status in sorted(ENDED)]
    every.append(_active_rows_back(state, query, bound))
    return heapq.merge(*every, key=_position, reverse=True)


def _indexed_rows_back(state: IndexedState, query: RunQuery, prefix: bytes, bound: tuple[int, str]) -> Iterator[dict]:
    since = query.since_ms or 0
    for key, _ in state.scan_back(prefix, created_bound(prefix, min(bound[0] + 1, _FAR_FUTURE_MS))):
        position = parse_run_index_key(prefix, key)
        if position[0] < since:
            return
        if position >= bound:
            continue
        row = state.get(execution_key(position[1]))
        if row is not None and query.admits(row):
            yield row


def _active_rows_back(state: IndexedState, query: RunQuery, bound: tuple[int, str]) -> Iterator[dict]:
    rows = []
    for key, _ in state.scan(ACTIVE_PREFIX):
        row = state.get(execution_key(parse_active_key(key)))
        if row is not None and query.admits(row) and (row["created_at"], row["id"]) < bound:
            rows.append(row)
    yield from sorted(rows, key=_position, reverse=True)
