"""The run index: kept by the fold, given to stores of older versions when they open,
and queried in (created, id) order across partitions."""

import pytest
from rocksdict import Rdict

from engine.client.run_query import RunQuery, select_rows
from engine.fold import MemoryState, run_index
from engine.fold.executions import execution_completed, execution_failed
from engine.fold.keys import DERIVED_KEY
from engine.fold.rows import new_execution
from engine.store import StorePartition
from engine.store.overlay import StoreOverlay


def create(state, execution_id: str, at: int, workflow: str = "orders", user: str | None = None) -> None:
    new_execution(state, {"execution_id": execution_id, "workflow": workflow, "input": "{}", "at": at, "user_id": user})


def end(state, execution_id: str, at: int, failed: bool = False) -> None:
    if failed:
        execution_failed(state, {"execution_id": execution_id, "at": at, "error": {"code": "TERMINAL"}})
    else:
        execution_completed(state, {"execution_id": execution_id, "at": at, "result": "1"})


def listed(states, **query) -> list[str]:
    after = query.pop("after", None)
    newest_first = query.pop("newest_first", False)
    return [row["id"] for row in select_rows(states, RunQuery(**query), after=after, newest_first=newest_first)]


def two_partitions() -> list[MemoryState]:
    a, b = MemoryState(), MemoryState()
    create(a, "a1", 10)
    create(b, "b1", 20, workflow="billing")
    create(a, "a2", 30, user="u")
    create(b, "b2", 30)
    create(a, "a3", 40)
    end(a, "a1", 50, failed=True)
    end(b, "b1", 60)
    end(a, "a2", 70, failed=True)
    return [a, b]


def test_the_partitions_answers_merge_in_creation_then_id_order():
    states = two_partitions()
    assert listed(states) == ["a1", "b1", "a2", "b2", "a3"]
    assert listed(states, status="failed") == ["a1", "a2"]
    assert listed(states, status="pending") == ["b2", "a3"], "runs still going, from the a/ keys"
    assert listed(states, workflow="billing") == ["b1"]
    assert listed(states, since_ms=30) == ["a2", "b2", "a3"]
    assert listed(states, since_ms=20, until_ms=40) == ["b1", "a2", "b2"]
    assert listed(states, status="failed", user_id="u") == ["a2"]
    assert listed(states, status="no-such-status") == []


def test_a_page_starts_after_its_token_even_at_the_same_creation_time():
    states = two_partitions()
    assert listed(states, after="a2") == ["b2", "a3"]
    assert listed(states, after="b1", status="failed") == ["a2"]
    assert listed(states, after="a2", status="pending") == ["b2", "a3"]
    with pytest.raises(ValueError, match="no-such-run"):
        listed(states, after="no-such-run")


def test_an_ended_run_stays_under_its_creation_time_and_gains_its_status():
    state = MemoryState()
    create(state, "r", 5)
    end(state, "r", 99, failed=True)
    assert listed([state], status="failed", since_ms=5, until_ms=6) == ["r"]
    assert listed([state], status="completed") == []


def _without_index(path) -> None:
    """Make a store look as a version before the run index wrote it."""
    db = Rdict(str(path))
    for key in [k for k in db.keys() if k.startswith(b"ix/") or k == DERIVED_KEY]:
        del db[key]
    db.close()


def test_a_store_of_an_older_version_gets_its_index_when_a_worker_opens_it(tmp_path):
    store = StorePartition(tmp_path / "p0")
    tx = store.transaction()
    create(tx, "old-1", 10)
    create(tx, "old-2", 20)
    end(tx, "old-1", 30, failed=True)
    tx.commit(3)
    store.close()
    _without_index(tmp_path / "p0")

    read_only = StorePartition(tmp_path / "p0", read_only=True)
    assert listed([read_only], status="failed") == [], "no index yet"
    overlay = StoreOverlay(read_only)
    assert not run_index.is_indexed(overlay)
    assert run_index.index_rows(overlay) == 2
    assert listed([overlay]) == ["old-1", "old-2"], "a reader indexes it in memory"
    read_only.close()
    again = StorePartition(tmp_path / "p0", read_only=True)
    assert listed([again], status="failed") == [], "and writes nothing"
    again.close()

    reopened = StorePartition(tmp_path / "p0")
    assert run_index.is_indexed(reopened)
    assert listed([reopened], status="failed") == ["old-1"]
    assert listed([reopened]) == ["old-1", "old-2"]
    assert reopened.applied_offset() == 3, "the upgrade leaves the applied offset alone"
    reopened.close()


def test_an_overlay_merges_its_changes_over_the_store_in_key_order(tmp_path):
    store = StorePartition(tmp_path / "p0")
    tx = store.transaction()
    create(tx, "s1", 10)
    create(tx, "s3", 30)
    tx.commit(1)
    overlay = StoreOverlay(store)
    create(overlay, "s2", 20)
    end(overlay, "s3", 40)
    assert listed([overlay]) == ["s1", "s2", "s3"]
    assert listed([overlay], status="completed") == ["s3"]
    assert listed([store]) == ["s1", "s3"] and listed([store], status="completed") == []
    assert listed([overlay], newest_first=True) == ["s3", "s2", "s1"]
    assert listed([overlay], workflow="orders", newest_first=True, after="s3") == ["s2", "s1"]
    overlay.delete(b"ix/w/orders\x000000000000000030\x00s3")
    assert listed([overlay], workflow="orders") == ["s1", "s2"], "a deleted key is gone from the merge"
    assert listed([overlay], workflow="orders", newest_first=True) == ["s2", "s1"], "and from the merge backwards"
    assert listed([store], newest_first=True) == ["s3", "s1"]
    store.close()


def test_newest_first_walks_the_index_backwards_within_since_and_until():
    states = two_partitions()
    assert listed(states, newest_first=True) == ["a3", "b2", "a2", "b1", "a1"]
    assert listed(states, newest_first=True, after="b2") == ["a2", "b1", "a1"], "a page after a tie at 30"
    assert listed(states, newest_first=True, after="a2") == ["b1", "a1"]
    assert listed(states, status="failed", newest_first=True) == ["a2", "a1"]
    assert listed(states, since_ms=20, until_ms=40, newest_first=True) == ["b2", "a2", "b1"]
    assert listed(states, workflow="billing", newest_first=True) == ["b1"]
    assert listed(states, status="pending", newest_first=True) == ["a3", "b2"]
    assert listed(states, status="running", newest_first=True) == []
