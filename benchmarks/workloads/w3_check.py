"""W3's verdict: which step bodies ran twice, and whether a completed step ever ran again.

What is provable, and how:

* A body's runs are the lines ``execution,step`` in the effects file. The file's size
  right after the killed process was reaped splits them into runs of the first process
  (before) and of the restarted one (after): a SIGKILLed process writes nothing more,
  and each line is one ``write`` with O_APPEND.
* A step *completed before the kill* is one whose winning ``StepCompleted`` (applied by
  the fold, read back from the journal) carries an epoch claimed by the first worker
  (``PartitionClaimed`` owner ``w3-run1/...``). Its body must have run exactly once, in
  the first process: any other line for it is a **completed step that ran again**.
* A step whose body started in the first process but whose ``StepCompleted`` is the
  restarted worker's was in flight at the kill: running it again is allowed
  (at-least-once bodies), and counted as an **in-flight step re-run**.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

from .. import journal

STEPS = ("s1", "s2", "s3")


class Effects:
    """The effects file: one ``execution,step`` line per step body run."""

    def __init__(self, path: Path):
        self.path = path
        self.path.touch()
        self.kill_offset: int | None = None
        self._read = 0
        self._s3 = 0

    def s3_lines(self) -> int:
        """Lines for step 3 so far (read incrementally: the harness polls every 2 ms)."""
        with open(self.path, "rb") as f:
            f.seek(self._read)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self._s3 += data[:end].count(b",s3\n")
        self._read += end
        return self._s3

    def mark_kill(self) -> None:
        self.kill_offset = self.path.stat().st_size

    def runs(self) -> tuple[Counter, Counter]:
        """Runs per (execution, step): before the kill, and after it."""
        data = self.path.read_bytes()

        def count(chunk: bytes) -> Counter:
            return Counter(tuple(line.split(",", 1)) for line in chunk.decode().splitlines())

        return count(data[: self.kill_offset]), count(data[self.kill_offset :])


def analyse(outcome: dict, effects: Effects, first: str, second: str) -> dict[str, float]:
    records: list[journal.Record] = outcome["records"]
    owners = journal.owner_epochs(records)
    first_epochs = {pe for pe, owner in owners.items() if owner.startswith(first + "/")}
    ids = set(outcome["ids"])
    workflows = len(ids)
    step_won: dict[tuple[str, str], tuple[int, int]] = {}  # (execution, step) -> (partition, epoch)
    finished: dict[str, tuple[int, int]] = {}
    for r in records:
        f = r.fields
        if not r.applied or f.get("execution_id") not in ids:
            continue
        if f["type"] == "StepCompleted":
            step_won[(f["execution_id"], f["key"])] = (r.partition, f["epoch"])
        elif f["type"] == "ExecutionCompleted":
            finished[f["execution_id"]] = (r.partition, f["epoch"])

    before, after = effects.runs()
    expected = [(e, s) for e in sorted(ids) for s in STEPS]
    never_ran = [k for k in expected if before[k] + after[k] == 0]
    if never_ran:
        raise AssertionError(f"{len(never_ran)} step bodies never ran, e.g. {never_ran[:5]}")
    completed_before_kill = {k for k, pe in step_won.items() if pe in first_epochs}
    ran_again = sorted(k for k in completed_before_kill if after[k] > 0 or before[k] > 1)
    twice = sorted(k for k in expected if before[k] + after[k] >= 2)
    in_flight = [k for k in twice if k not in completed_before_kill]
    if ran_again:
        print(
            f"W3 VIOLATION: {len(ran_again)} steps completed before the kill ran again, e.g. "
            f"{[(k, before[k], after[k]) for k in ran_again[:5]]}",
            file=sys.stderr,
        )
    odd = [k for k in in_flight if before[k] == 0]  # ran twice, both times after the restart
    if odd:
        print(f"W3 note: {len(odd)} steps ran twice after the restart, e.g. {odd[:5]}", file=sys.stderr)

    claims = [
        r.fields["at"]
        for r in records
        if r.fields["type"] == "PartitionClaimed" and r.applied and r.fields["owner"].startswith(second + "/")
    ]
    restarted_at = outcome["restarted_at"]
    return {
        "not_completed": float(workflows - len(finished)),
        "completed_steps_rerun": float(len(ran_again)),
        "inflight_steps_rerun": float(len(in_flight)),
        "bodies_ran_twice": float(len(twice)),
        "extra_body_runs": float(sum(max(0, before[k] + after[k] - 1) for k in expected)),
        "restart_to_complete_s": outcome["all_done_at"] - restarted_at,
        "restart_to_claimed_s": (max(claims) / 1000 - restarted_at) if claims else float("nan"),
        "done_before_kill": float(sum(1 for pe in finished.values() if pe in first_epochs)),
        "completed": float(len(finished)),
        "results_ok": float(outcome["results_ok"]),
        "s3_lines_at_kill": float(sum(n for (_, s), n in before.items() if s == "s3")),
        "steps_completed_before_kill": float(len(completed_before_kill)),
        "kill_to_restart_s": restarted_at - outcome["killed_at"],
    }
