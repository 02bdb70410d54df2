"""Worker metrics in Prometheus' text format, at ``/metrics`` on the health port.

``prometheus_client`` is imported only when the health port is on (``HealthEndpoints``
makes a ``WorkerMetrics``), so a worker without it never loads it. Each worker has a
registry of its own (not the library's global one): two workers in one process do not
mix their figures.

Counted from the records the worker folds live (``WorkerMetrics`` is an interceptor,
``workflow.interceptors``; nothing is added to the step path itself):

* ``logloom_runs_started_total{workflow}``, ``logloom_runs_ended_total{workflow,status}``
  (``completed``, ``failed``, ``cancelled``);
* ``logloom_steps_total{status}`` (``completed``, ``failed``, ``retried``: each failed
  attempt that will be retried) and ``logloom_step_duration_seconds`` (histogram): from
  the run's previous record to the step's outcome (a step's start is not journaled).

Read from the worker when scraped (``WorkerGauges``): ``logloom_partitions_owned``,
``logloom_partition_lag_records{partition}`` (records on the log not folded yet, as of
the health snapshot), ``logloom_runs_in_memory``, ``logloom_runs_deferred`` (the queue of
runs waiting for room to start) and ``logloom_outcomes_awaited``.
"""

from __future__ import annotations

from ..fold.effects import EffectKind
from ..fold.rows import EntryStatus
from ..workflow.interceptors import FoldedRecord

_STEP, _STARTED, _FINISHED = EffectKind.STEP, EffectKind.STARTED, EffectKind.FINISHED
_SKIP = frozenset((EffectKind.FENCED, EffectKind.DUPLICATE, EffectKind.IGNORED))
_COMPLETED, _FAILED, _RETRYING = EntryStatus.COMPLETED, EntryStatus.FAILED, EntryStatus.RETRYING
MAX_RUNS_TRACKED = 100_000  # runs whose last record time is kept (a step's start)
STEP_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class WorkerMetrics:
    """The counters of one worker, and the interceptor that moves them."""

    def __init__(self):
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        self.runs_started = Counter("logloom_runs_started", "Runs started", ["workflow"], registry=self.registry)
        self.runs_ended = Counter(
            "logloom_runs_ended", "Runs ended, by how", ["workflow", "status"], registry=self.registry
        )
        self.steps = Counter("logloom_steps", "Step outcomes recorded", ["status"], registry=self.registry)
        self.step_duration = Histogram(
            "logloom_step_duration_seconds",
            "From the run's previous record to the step's outcome",
            buckets=STEP_BUCKETS_S,
            registry=self.registry,
        )
        self._last_at: dict[str, int] = {}  # a running run's last record (ms): a step's start

    def watch(self, worker, lag_of) -> None:
        """Add the gauges read from ``worker`` at each scrape; ``lag_of()``: {partition: lag}."""
        self.registry.register(WorkerGauges(worker, lag_of))

    def on_record(self, folded: FoldedRecord) -> None:
        effects = folded.effects
        if not effects or any(e.kind in _SKIP for e in effects):
            return
        record = folded.record
        execution_id, at_ms = record["execution_id"], record["at"]
        before = self._last_at.get(execution_id)
        if before is None and len(self._last_at) >= MAX_RUNS_TRACKED:  # runs that moved away never end here
            del self._last_at[next(iter(self._last_at))]
        self._last_at[execution_id] = at_ms
        for effect in effects:
            kind = effect.kind
            if kind is _STEP and effect.execution_id == execution_id:
                entry = effect.data[1]
                if entry.get("kind") is not None:
                    continue  # a wait or a child, not a step body
                status = entry["status"]
                if status == _RETRYING:
                    self.steps.labels("retried").inc()
                elif status == _COMPLETED or status == _FAILED:
                    self.steps.labels(str(status)).inc()
                    if before is not None:
                        self.step_duration.observe(max(0, at_ms - before) / 1000)
            elif kind is _STARTED:
                self.runs_started.labels(effect.data["workflow"]).inc()
            elif kind is _FINISHED:
                row = effect.data
                self.runs_ended.labels(row["workflow"], str(row["status"])).inc()
                self._last_at.pop(row["id"], None)

    def exposition(self) -> tuple[bytes, str]:
        """The text format and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class WorkerGauges:
    """A collector read at each scrape: what the worker holds now."""

    def __init__(self, worker, lag_of):
        self.worker, self.lag_of = worker, lag_of

    def describe(self):
        return []

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        worker = self.worker
        yield GaugeMetricFamily(
            "logloom_partitions_owned", "Partitions this worker owns", len(worker.active_partitions())
        )
        lag = GaugeMetricFamily("logloom_partition_lag_records", "Records not folded yet", labels=["partition"])
        for partition, records in sorted(self.lag_of().items()):
            lag.add_metric([str(partition)], records)
        yield lag
        invoker = worker.invoker
        yield GaugeMetricFamily("logloom_runs_in_memory", "Runs in memory", invoker.running())
        yield GaugeMetricFamily("logloom_runs_deferred", "Runs waiting for room to start", invoker.deferred())
        awaited = sum(proc.outcomes_awaited() for proc in worker.processors.values())
        yield GaugeMetricFamily("logloom_outcomes_awaited", "Records appended, waiting for their fold", awaited)
