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
  the start of a step's last attempt (its outcome's ``started_at``; in older records, the
  run's previous record) to its outcome.

Read from the worker when scraped (``WorkerGauges``): ``logloom_partitions_owned``,
``logloom_partition_lag_records{partition}`` (records on the log not folded yet, as of
the health snapshot), ``logloom_runs_in_memory``, ``logloom_runs_deferred`` (the queue of
runs waiting for room to start), ``logloom_outcomes_awaited``, and per flow-control queue
``logloom_queue_running_runs{queue}`` and ``logloom_queue_waiting_runs{queue}`` (its depth),
summed over the owned partitions' queue keys.
"""

from __future__ import annotations

from bisect import bisect_left
from itertools import accumulate

from ..fold.effects import EffectKind
from ..fold.keys import QUEUE_PREFIX
from ..fold.rows import EntryStatus
from ..workflow.interceptors import FoldedRecord

_STEP, _STARTED, _FINISHED = EffectKind.STEP, EffectKind.STARTED, EffectKind.FINISHED
_SKIP = frozenset((EffectKind.FENCED, EffectKind.DUPLICATE, EffectKind.IGNORED))
_COMPLETED, _FAILED, _RETRYING = EntryStatus.COMPLETED, EntryStatus.FAILED, EntryStatus.RETRYING
MAX_RUNS_TRACKED = 100_000  # runs whose last record time is kept (a step's start)
STEP_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class WorkerMetrics:
    """The counters of one worker, and the interceptor that moves them.

    ``on_record`` adds to plain ints in dicts (a few dict operations a record, on the
    event loop); ``prometheus_client`` meets them only when scraped (``WorkerCounts``), on
    the health thread, which reads copies made under the GIL."""

    def __init__(self):
        from prometheus_client import CollectorRegistry

        self.registry = CollectorRegistry(auto_describe=False)
        self.runs_started: dict[str, int] = {}  # workflow -> runs
        self.runs_ended: dict[tuple[str, str], int] = {}  # (workflow, status) -> runs
        self.steps: dict[str, int] = {}  # status -> step outcomes
        self.step_buckets = [0] * (len(STEP_BUCKETS_S) + 1)  # the last: above every bound
        self.step_sum_s = 0.0
        self._last_at: dict[str, int] = {}  # a running run's last record (ms): a step's start
        self.registry.register(WorkerCounts(self))

    def watch(self, worker, lag_of) -> None:
        """Add the gauges read from ``worker`` at each scrape; ``lag_of()``: {partition: lag}."""
        self.registry.register(WorkerGauges(worker, lag_of))

    def on_record(self, folded: FoldedRecord) -> None:
        effects = folded.effects
        for effect in effects:
            if effect.kind in _SKIP:
                return
        record = folded.record
        execution_id, at_ms = record["execution_id"], record["at"]
        last_at = self._last_at
        before = last_at.get(execution_id)
        if before is None and len(last_at) >= MAX_RUNS_TRACKED:  # runs that moved away never end here
            del last_at[next(iter(last_at))]
        last_at[execution_id] = at_ms
        for effect in effects:
            kind = effect.kind
            if kind is _STEP:
                entry = effect.data[1]
                if entry.get("kind") is not None or effect.execution_id != execution_id:
                    continue  # a wait or a child, not a step body
                status = entry["status"]
                if status == _RETRYING:
                    self.steps["retried"] = self.steps.get("retried", 0) + 1
                elif status == _COMPLETED or status == _FAILED:
                    self.steps[status] = self.steps.get(status, 0) + 1
                    began = record.get("started_at") or before  # older records: the run's previous one
                    if began is not None:
                        duration_s = max(0, at_ms - began) / 1000
                        self.step_buckets[bisect_left(STEP_BUCKETS_S, duration_s)] += 1
                        self.step_sum_s += duration_s
            elif kind is _STARTED:
                workflow = effect.data["workflow"]
                self.runs_started[workflow] = self.runs_started.get(workflow, 0) + 1
            elif kind is _FINISHED:
                row = effect.data
                ended = (row["workflow"], row["status"])
                self.runs_ended[ended] = self.runs_ended.get(ended, 0) + 1
                last_at.pop(row["id"], None)

    def exposition(self) -> tuple[bytes, str]:
        """The text format and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class WorkerCounts:
    """A collector: ``WorkerMetrics``' counts as Prometheus counters and a histogram."""

    def __init__(self, metrics: WorkerMetrics):
        self.metrics = metrics

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

        m = self.metrics
        started = CounterMetricFamily("logloom_runs_started", "Runs started", labels=["workflow"])
        for workflow, runs in sorted(dict(m.runs_started).items()):
            started.add_metric([workflow], runs)
        yield started
        ended = CounterMetricFamily("logloom_runs_ended", "Runs ended, by how", labels=["workflow", "status"])
        for (workflow, status), runs in sorted(dict(m.runs_ended).items()):
            ended.add_metric([workflow, str(status)], runs)
        yield ended
        steps = CounterMetricFamily("logloom_steps", "Step outcomes recorded", labels=["status"])
        for status, count in sorted(dict(m.steps).items()):
            steps.add_metric([str(status)], count)
        yield steps
        counts, total, buckets = list(m.step_buckets), m.step_sum_s, []
        for bound, count in zip((*map(str, STEP_BUCKETS_S), "+Inf"), accumulate(counts)):
            buckets.append((bound, count))
        yield HistogramMetricFamily(
            "logloom_step_duration_seconds", "From a step's last attempt's start to its outcome",
            buckets=buckets, sum_value=total,
        )  # fmt: skip


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
        holding, waiting = queue_depths(worker)
        running = GaugeMetricFamily("logloom_queue_running_runs", "Runs holding a queue's slot", labels=["queue"])
        queued = GaugeMetricFamily("logloom_queue_waiting_runs", "Runs waiting for a queue's slot", labels=["queue"])
        for queue in sorted(holding):
            running.add_metric([queue], holding[queue])
            queued.add_metric([queue], waiting[queue])
        yield running
        yield queued


def queue_depths(worker) -> tuple[dict[str, int], dict[str, int]]:
    """Per queue, the runs holding a slot and the runs waiting, over the queue keys of the
    partitions this worker owns (one scan of their ``q/`` keys). A partition that is
    closing as it is read is left out of this scrape."""
    holding: dict[str, int] = {}
    waiting: dict[str, int] = {}
    for processor in list(worker.processors.values()):
        if not processor.active:
            continue
        try:
            for _, slots in processor.store.scan(QUEUE_PREFIX):
                queue = slots["queue"]
                holding[queue] = holding.get(queue, 0) + len(slots["running"])
                waiting[queue] = waiting.get(queue, 0) + len(slots["waiting"])
        except Exception:  # noqa: BLE001 - revoked and closed meanwhile: its new owner reports it
            continue
    return holding, waiting
