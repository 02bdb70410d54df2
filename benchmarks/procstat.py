"""CPU seconds and memory (/proc/<pid>/status) of processes.

CPU comes from the process's CPU-time clock (what ``clock_getcpuclockid(pid)`` returns),
in nanoseconds and with every thread counted, exited ones too. ``/proc/<pid>/stat``
counts in clock ticks of 10 ms, too coarse for a burst of 200 workflows that takes
about 80 ms of CPU in all.
"""

from __future__ import annotations

import os
import time


def _process_clock(pid: int) -> int:
    """The clock id of a process's CPU time: Linux's ``MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)``,
    as glibc's ``clock_getcpuclockid`` builds it (Python has no binding for that call)."""
    return ((~pid) << 3) | 2


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far, its threads included."""
    return time.clock_gettime_ns(_process_clock(pid)) / 1e9


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


def reset_peak(pid: int) -> None:
    """Reset the process's peak RSS (VmHWM) to its RSS now: Linux's ``clear_refs`` value 5,
    so a later ``memory_mb(pid)["hwm_mb"]`` is the peak of what ran in between."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def reference_loop_ms(n: int = 300_000) -> float:
    """Wall milliseconds of a fixed pure-Python loop (about 9 ms on an idle machine here).

    Run before each repetition, it shows how fast the machine is at that moment. On a
    shared VM the same loop can take twice as long an hour later, and every process of a
    repetition slows with it: a slow repetition with a slow loop says the machine, not
    the change, moved.
    """
    start = time.perf_counter()
    total = 0
    for i in range(n):
        total += i * i
    return (time.perf_counter() - start) * 1000


JIT_THREADS = ("C1 CompilerThre", "C2 CompilerThre")  # HotSpot's compiler threads, as /proc names them


def jit_cpu_ms(pid: int) -> float:
    """CPU milliseconds a JVM's JIT compiler threads have used so far (/proc ticks of 10 ms).

    A new broker compiles its hot paths for minutes; compiling inside a measured
    repetition takes CPU from the engine on a 2-core machine. Thread clocks of another
    process cannot be read, so this counts ticks: coarse, enough to flag a repetition.
    """
    total = 0
    tick_ms = 1000 / os.sysconf("SC_CLK_TCK")
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:  # the thread ended
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if name.startswith(JIT_THREADS):
            fields = stat.rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total * tick_ms
