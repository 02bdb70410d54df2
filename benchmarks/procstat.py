"""CPU seconds of processes from /proc/<pid>/stat (utime + stime, all threads), no dependency."""

from __future__ import annotations

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (its threads included)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()  # the command name may contain spaces
    # After the name: field 3 (state) is fields[0], so utime (14) is [11] and stime (15) is [12].
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


class CpuMeter:
    """CPU seconds each named process used between construction and ``stop()``."""

    def __init__(self, pids: dict[str, int]):
        self.pids = dict(pids)
        self._start = {role: cpu_seconds(pid) for role, pid in self.pids.items()}

    def stop(self) -> dict[str, float]:
        return {role: cpu_seconds(pid) - self._start[role] for role, pid in self.pids.items()}
