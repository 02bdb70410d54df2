"""The start queue keeps runs waiting their turn in order, with a bounded part in memory
and the rest on disk (``engine/runtime/start_queue.py``)."""

import os
from dataclasses import dataclass

import pytest

from engine.runtime.start_queue import StartQueue


@dataclass
class Owner:  # the part of a PartitionProcessor the queue reads
    partition: int
    owner: str


def drain(queue: StartQueue) -> list[tuple[int, str]]:
    out = []
    while (popped := queue.pop()) is not None:
        out.append((popped[0].partition, popped[1]))
    return out


def test_past_the_memory_bound_entries_wait_on_disk_and_come_back_in_order(tmp_path):
    p0, p1 = Owner(0, "w/a"), Owner(1, "w/b")
    queue = StartQueue(max_in_memory=3, spill_dir=tmp_path)
    pushed = [(p0 if i % 2 else p1, f"run-{i}") for i in range(20)]
    for processor, execution_id in pushed:
        queue.push(processor, execution_id)

    assert len(queue) == 20 and queue.in_memory() == 3 and queue.on_disk() == 17
    assert len(list(tmp_path.iterdir())) == 1  # the disk part, named by this process
    queue.push(p0, "run-21")  # after a spill, new entries follow the ones on disk
    assert queue.in_memory() == 3
    assert drain(queue) == [(p.partition, i) for p, i in pushed] + [(0, "run-21")]
    assert len(queue) == 0 and queue.in_memory() == 0


def test_memory_holds_each_entry_once_and_the_disk_part_opens_only_when_needed(tmp_path):
    p0 = Owner(0, "w/a")
    queue = StartQueue(max_in_memory=2, spill_dir=tmp_path)
    queue.push(p0, "x")
    queue.push(p0, "x")
    queue.push(p0, "y")
    assert len(queue) == 2
    assert list(tmp_path.iterdir()) == []  # nothing spilled: no disk part
    assert drain(queue) == [(0, "x"), (0, "y")]


def test_a_dropped_partition_is_forgotten_in_memory_and_on_disk(tmp_path):
    p0, p1 = Owner(0, "w/a"), Owner(1, "w/b")
    queue = StartQueue(max_in_memory=2, spill_dir=tmp_path)
    for i in range(10):
        queue.push(p0 if i < 5 else p1, f"run-{i}")
    queue.drop_partition(0)
    assert len(queue) == 5 and queue.on_disk() == 5
    assert drain(queue) == [(1, f"run-{i}") for i in range(5, 10)]


def test_a_chunk_of_only_dropped_entries_does_not_hide_the_live_ones_behind_it(tmp_path):
    p0, p1 = Owner(0, "w/a"), Owner(1, "w/b")
    queue = StartQueue(max_in_memory=2, spill_dir=tmp_path)  # chunks of 1 from disk
    for i in range(6):
        queue.push(p0, f"old-{i}")
    queue.push(p1, "live")
    queue.drop_partition(0)
    assert len(queue) == 1
    assert queue.pop()[1] == "live"


def test_close_deletes_the_disk_part_and_a_new_queue_removes_what_dead_processes_left(tmp_path):
    p0 = Owner(0, "w/a")
    queue = StartQueue(max_in_memory=1, spill_dir=tmp_path)
    queue.push(p0, "a")
    queue.push(p0, "b")
    assert len(list(tmp_path.iterdir())) == 1
    queue.close()
    assert list(tmp_path.iterdir()) == [] and len(queue) == 0

    left = tmp_path / f"{2**22 + 12345}-deadbeef"  # above pid_max's default: no such process
    left.mkdir()
    assert not os.path.exists(f"/proc/{2**22 + 12345}")
    mine_alive = tmp_path / f"{os.getppid()}-cafe0000"  # a live process's: kept
    mine_alive.mkdir()
    queue = StartQueue(max_in_memory=1, spill_dir=tmp_path)
    queue.push(p0, "a")
    queue.push(p0, "b")
    names = {path.name for path in tmp_path.iterdir()}
    assert left.name not in names and mine_alive.name in names and len(names) == 2
    queue.close()


def test_the_memory_bound_must_be_positive():
    with pytest.raises(ValueError, match="max_deferred_in_memory must be at least 1"):
        StartQueue(max_in_memory=0)
