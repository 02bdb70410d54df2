"""The verdict of a run under faults: what ran twice, what must never have, and the stalls.

Shared by the FAULTS benchmark and the fault suite (``tests/faults``). Its inputs:

* the effects file: one line ``execution,step,start ns`` per step body run, written with
  one O_APPEND ``write`` before the body returns (``bench_fault`` in ``apps.py``);
* the journal, read back with the fold's verdict per record (``journal.scan``), with the
  log's timestamp of each record;
* the faults: when each happened, and which partitions it hit.

What is provable:

1. **A completed step never runs again.** A step's accepted ``StepCompleted`` was sent at
   its timestamp T (whole milliseconds); a worker that replays the partition sees it and
   never runs the body again. So a body run that started in a later millisecond than T is
   a completed step that ran again: it must never happen. (One clock: every process runs
   on this machine.)
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
    stalls_s: list[float] = field(default_factory=list)  # per fault


def body_runs(effects: Path) -> dict[tuple[str, str], list[int]]:
    """(execution, step) -> the start times (ns) of its body's runs, from the effects file."""
    runs: dict[tuple[str, str], list[int]] = defaultdict(list)
    if effects.exists():
        for line in effects.read_text().splitlines():
            execution_id, step, started_ns = line.split(",")
            runs[(execution_id, step)].append(int(started_ns))
    return runs


def judge(effects: Path, records: list[Record], faults: list[tuple[float, list[int]]]) -> Verdict:
    """``faults``: (time.time() of the fault, the partitions it hit)."""
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
        if any(started // 1_000_000 > recorded_ms for started in starts):  # the log's time is in whole ms
            verdict.ran_again.append((*step, recorded_ms, *starts))
        verdict.duplicates += len(starts) - 1
    for at_s, partitions in faults:
        at_ms = at_s * 1000
        resumed = [min((t for t in progress[p] if t > at_ms), default=None) for p in partitions]
        if partitions and all(t is not None for t in resumed):
            verdict.stalls_s.append((max(resumed) - at_ms) / 1000)
    return verdict
