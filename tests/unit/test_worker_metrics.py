"""Worker metrics read at a scrape (``engine/runtime/metrics.py``): queue depths come from
the queue keys the fold keeps in the partitions the worker owns."""

from types import SimpleNamespace

from engine.fold import MemoryState
from engine.fold.executions import invocation_requested
from engine.runtime.metrics import queue_depths
from engine.wire import records
from engine.workflow.queues import queue


def test_queue_depths_count_the_runs_holding_and_waiting_in_the_owned_partitions():
    emails, reports = queue("emails", concurrency_limit=1), queue("reports", concurrency_limit=2)
    owned, other = MemoryState(), MemoryState()
    for i, (state, q, key) in enumerate(
        [(owned, emails, "ana"), (owned, emails, "ana"), (owned, emails, "bo"), (owned, reports, None),
         (owned, emails, "ana"), (other, emails, "cy"), (other, emails, "cy")]
    ):  # fmt: skip
        r = records.invocation_requested(f"e{i}", 1000 + i, workflow="w", input="{}", queue=q.request(key, 0))
        invocation_requested(state, r)
    worker = SimpleNamespace(
        processors={0: SimpleNamespace(active=True, store=owned), 1: SimpleNamespace(active=False, store=other)}
    )
    holding, waiting = queue_depths(worker)
    assert holding == {"emails": 2, "reports": 1}, "ana and bo each hold one slot of emails"
    assert waiting == {"emails": 2, "reports": 0}, "two more of ana's wait; a partition not owned is not counted"
