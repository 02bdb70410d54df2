"""The run index: executions by workflow and, once ended, by status, each by creation time.

``workflow list`` and its filters read it from a store instead of reading the log
(``client/run_query.py``). Two kinds of key, each ordered by creation time within its
prefix, so a time window is one range of keys:

- ``ix/w/<workflow>\\0<created>\\0<id>``: every execution of a workflow;
- ``ix/s/<status>\\0<created>\\0<id>``: every ended execution of a status.

Runs still going are few next to ended ones, and are found through their ``a/`` keys;
every run, by time, is the merge of the three ended statuses and those. The values are
empty: the row ``e/<id>`` holds the rest. The fold writes the first key when it creates
a row and the second when the row ends: one key each, on the step path. A store written by a version
before the index gets it from its rows when it is opened (``index_rows``), which
``m/derived`` records, so an upgraded worker lists its old runs too.
"""

from __future__ import annotations

from .keys import (
    DERIVED_KEY,
    EXECUTION_PREFIX,
    run_status_key,
    run_workflow_key,
)
from .state import State

VERSION = 1
_EMPTY: dict = {}


def on_created(state: State, row: dict) -> None:
    """Index a new row by its workflow."""
    state.put(run_workflow_key(row["workflow"], row["created_at"], row["id"]), _EMPTY)


def on_ended(state: State, row: dict) -> None:
    """Index an ended row by its status."""
    state.put(run_status_key(row["status"], row["created_at"], row["id"]), _EMPTY)


def is_indexed(state: State) -> bool:
    """Whether every row of the store is in the index (the store is of this version)."""
    derived = state.get(DERIVED_KEY)
    return derived is not None and derived.get("run_index", 0) >= VERSION


def index_rows(state: State) -> int:
    """Index every row of a store written before the index; returns how many."""
    indexed = 0
    for _, row in state.scan(EXECUTION_PREFIX):
        on_created(state, row)
        if row.get("completed_at") is not None:  # it has ended
            on_ended(state, row)
        indexed += 1
    state.put(DERIVED_KEY, {"run_index": VERSION})
    return indexed
