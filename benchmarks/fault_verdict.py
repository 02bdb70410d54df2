"""The verdict of a run under faults: what ran twice, what must never have, and the stalls.

Shared by the FAULTS benchmark and the fault suite (``tests/faults``). Its inputs:

* the effects file: one line ``execution,step,started ms,pid`` per step body run, written
  with one O_APPEND ``write`` before the body returns (``bench_fault`` in ``apps.py``);
  started: when the worker started the attempt, before it checked that it still owns the
  run (``StepInfo.started_at_ms``);
* the journal, read back with the fold's verdict per record (``journal.scan``), with the
  log's timestamp of each record;
* the faults: when each happened, and which partitions it hit.

What is provable:

1. **A completed step never runs again.** A step's accepted ``StepCompleted`` was sent at
   its timestamp T (whole milliseconds); a worker that replays the partition sees it and
   never starts the step again. So an attempt started in a later millisecond than T is a
   completed step that ran again: it must never happen. (One clock: every process runs
   on this machine.) An attempt started before a pause and run after it was in flight at
   the fault: a duplicate.
2. **Duplicates** are the other extra runs: bodies in flight at a fault, whose result
   was never recorded (or was fenced), run again by the next owner. At-least-once
   bodies allow them; they are counted.
3. **Stall** of a fault: from the fault until every partition it hit has a new accepted
   ``StepCompleted``, i.e. until the runs there progress again.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .journal import Record


@dataclass
class Verdict:
    bodies: int = 0  # step body runs in the effects file
    steps_recorded: int = 0  # accepted StepCompleted records
    duplicates: int = 0  # extra body runs of steps in flight at a fault (allowed)
    ran_again: list[tuple[str, str]] = field(default_factory=list)  # completed steps that ran again (never)
    unrecorded: list[tuple[str, str]] = field(default_factory=list)  # bodies whose step never completed
    hits: int = 0  # faults that hit a worker owning partitions (one that owned none stalls nothing)
    stalls_s: list[float] = field(default_factory=list)  # per hit whose partitions progressed again
    # per fault on a worker: the longest pause in the progress of the partitions it did not own,
    # over the 10 s after it (a cooperative rebalance leaves them running)
    others_gaps_s: list[float] = field(default_factory=list)

    def summary(self) -> str:
        stalls = sorted(self.stalls_s)
        shown = f"p50 {stalls[len(stalls) // 2]:.2f} s, max {stalls[-1]:.2f} s" if stalls else "-"
        others = f"{max(self.others_gaps_s):.2f} s" if self.others_gaps_s else "-"
        return (f"bodies {self.bodies}, steps recorded {self.steps_recorded}, duplicates {self.duplicates}, "
                f"completed steps run again {len(self.ran_again)}, faults hitting partitions {self.hits}, "
                f"recovery {shown}, other partitions' longest pause {others}")  # fmt: skip


def body_runs(effects: Path) -> dict[tuple[str, str], list[int]]:
    """(execution, step) -> the start times (ms) of its body's runs, from the effects file."""
    runs: dict[tuple[str, str], list[int]] = defaultdict(list)
    if effects.exists():
        for line in effects.read_text().splitlines():
            execution_id, step, started_ns = line.split(",")[:3]
            runs[(execution_id, step)].append(int(started_ns))
    return runs


def owned_at(records: list[Record], at_s: float, worker: str) -> list[int]:
    """The partitions whose current claim at ``at_s`` (``time.time()``) was ``worker``'s."""
    owner: dict[int, str] = {}
    for r in records:
        if r.fields["type"] == "PartitionClaimed" and r.applied and r.timestamp_ms <= at_s * 1000:
            owner[r.partition] = r.fields["owner"]
    return sorted(p for p, o in owner.items() if o.split("/")[0] == worker)


def judge(effects: Path, records: list[Record], faults: list[tuple[float, str | None]]) -> Verdict:
    """``faults``: (``time.time()`` of the fault, the worker it hit: a worker id, the first
    part of its claims' owner; or None for all the partitions, as when the broker fails)."""
    completed: dict[tuple[str, str], int] = {}  # (execution, step) -> accepted record's timestamp ms
    progress: dict[int, list[int]] = defaultdict(list)  # partition -> accepted StepCompleted timestamps
    for r in records:
        if r.applied and r.fields["type"] == "StepCompleted":
            completed.setdefault((r.fields["execution_id"], r.fields["key"]), r.timestamp_ms)
            progress[r.partition].append(r.timestamp_ms)
    verdict = Verdict(steps_recorded=len(completed))
    for step, starts in body_runs(effects).items():
        verdict.bodies += len(starts)
        recorded_ms = completed.get(step)
        if recorded_ms is None:
            verdict.unrecorded.append(step)
            continue
        if any(started > recorded_ms for started in starts):
            verdict.ran_again.append((*step, recorded_ms, *starts))
        verdict.duplicates += len(starts) - 1
    for at_s, worker in faults:
        partitions = sorted(progress) if worker is None else owned_at(records, at_s, worker)
        verdict.hits += bool(partitions)
        at_ms = at_s * 1000
        resumed = [min((t for t in progress[p] if t > at_ms), default=None) for p in partitions]
        if partitions and all(t is not None for t in resumed):
            verdict.stalls_s.append((max(resumed) - at_ms) / 1000)
        if worker is not None:
            others = [p for p in progress if p not in partitions]
            gaps = [_longest_gap(progress[p], at_ms, at_ms + OTHERS_WINDOW_MS) for p in others]
            if gaps:
                verdict.others_gaps_s.append(max(gaps) / 1000)
    return verdict


OTHERS_WINDOW_MS = 10_000


def _longest_gap(times_ms: list[int], start_ms: float, end_ms: float) -> float:
    """The longest time without progress from ``start_ms`` until the first progress past
    ``end_ms``, from a partition's progress times (0 if it had none after the start)."""
    edges = [start_ms]
    for t in sorted(t for t in times_ms if t >= start_ms):
        edges.append(t)
        if t > end_ms:
            break
    return max((b - a for a, b in zip(edges, edges[1:], strict=False)), default=0.0)
