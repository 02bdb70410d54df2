"""The workload registry. A workload is one module here that calls ``register``.

To add one (W2 event wake-up is still to come):

1. Write ``benchmarks/workloads/<name>.py`` with ``async def run(env, params) -> dict``
   that performs ONE repetition on ``env`` (see ``benchmarks/envs.py``) and returns
   its metrics as floats, counting CPU with ``benchmarks.procstat.CpuMeter`` over
   ``env.pids`` plus the pids of any worker it starts.
2. ``register(Workload(name, summary, metrics, run, variants))``; ``variants(args)``
   returns one params dict per configuration to run (most workloads have one).
3. Import the module at the bottom of this file.

The harness runs every variant ``--reps`` times on every selected log, a fresh event
loop per repetition, and reports the median, min and max of each metric.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    better: str = "higher"  # "higher" or "lower"
    targets: dict[str, float] = field(default_factory=dict)  # log kind -> threshold

    def meets(self, kind: str, value: float) -> bool | None:
        target = self.targets.get(kind)
        if target is None:
            return None
        return value >= target if self.better == "higher" else value <= target

    def target_text(self, kind: str) -> str:
        target = self.targets.get(kind)
        if target is None:
            return ""
        return f"{'>=' if self.better == 'higher' else '<='} {target:g}"


@dataclass(frozen=True)
class Workload:
    name: str
    summary: str
    metrics: tuple[Metric, ...]  # the headline metrics, in table order
    run: Callable[[Any, dict], Awaitable[dict[str, float]]]
    variants: Callable[[Any], list[dict]] = lambda args: [{}]
    logs: tuple[str, ...] = ("embedded", "kafka")
    warmup: bool = False  # short workloads: run --warmup-reps unreported repetitions first


WORKLOADS: dict[str, Workload] = {}


def register(workload: Workload) -> Workload:
    WORKLOADS[workload.name] = workload
    return workload


from . import agent, audit, fanout, faults, http_w1, mem, queue, rebuild, replay, sched, soak, w1, w2, w3, w4  # noqa: E402,F401  (they register themselves)
