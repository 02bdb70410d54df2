"""CPU seconds (/proc/<pid>/stat: utime + stime, all threads) and memory (/proc/<pid>/status) of processes."""

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


def memory_mb(pid: int) -> dict[str, float]:
    """Resident set size now (VmRSS) and its peak so far (VmHWM), in MB (10^6 bytes), from /proc."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "VmHWM"):
                out["rss_mb" if name == "VmRSS" else "hwm_mb"] = int(value.split()[0]) * 1024 / 1e6
    return out
