"""Tracing on both logs: the spans a run's records make, their tree, ids and times."""

from __future__ import annotations

import pytest
from helpers import assert_eventually

from engine import RetryableError, WorkflowContext, workflow
from engine.observability import ids

pytest.importorskip("opentelemetry.sdk")
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.trace import StatusCode  # noqa: E402

from engine.observability import Tracing  # noqa: E402

FLAKY_TRIES: dict[str, int] = {}
SLEEP_S = 0.3


def _flaky(execution_id: str) -> str:
    FLAKY_TRIES[execution_id] = FLAKY_TRIES.get(execution_id, 0) + 1
    if FLAKY_TRIES[execution_id] == 1:
        raise RetryableError("not yet", retry_after=0.2)
    return "ok"


@workflow
async def t_traced_child(ctx: WorkflowContext, n: int) -> int:
    return await ctx.step.run("double", lambda: n * 2)


@workflow
async def t_traced(ctx: WorkflowContext, n: int) -> dict:
    first = await ctx.step.run("first", lambda: n + 1)
    await ctx.sleep(SLEEP_S, name="nap")
    child = await ctx.step.invoke_and_wait("kid", t_traced_child, {"n": first})
    flaky = await ctx.step.run("flaky", _flaky, ctx.execution_id, max_retries=2, base_delay=0.1)
    return {"child": child, "flaky": flaky}


def tracing() -> tuple[Tracing, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    return Tracing(span_processor=SimpleSpanProcessor(exporter)), exporter


async def test_a_run_gives_its_span_tree_with_parents_ids_and_durations(harness):
    trace, exporter = tracing()
    await harness.worker(interceptors=[trace])
    client = await harness.client()
    handle = await t_traced.invoke(client, {"n": 1})
    assert await handle.result(timeout=60) == {"child": 4, "flaky": "ok"}
    root = handle.execution_id

    def names() -> set[str]:
        return {s.name for s in exporter.get_finished_spans()}

    await assert_eventually(lambda: "run t_traced" in names(), message="the root run's span is exported")
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert len(exporter.get_finished_spans()) == len({s.context.span_id for s in exporter.get_finished_spans()})

    run = spans["run t_traced"]
    assert run.context.trace_id == ids.trace_id(root)
    assert run.context.span_id == ids.run_span(root)
    assert run.parent is None
    assert {s.context.trace_id for s in spans.values()} == {ids.trace_id(root)}  # the child's too

    for name in ("step first", "sleep nap", "child t_traced_child", "step flaky"):
        assert spans[name].parent.span_id == run.context.span_id, name
        assert run.start_time <= spans[name].start_time <= spans[name].end_time <= run.end_time, name

    nap = spans["sleep nap"]
    assert nap.end_time - nap.start_time >= SLEEP_S * 1e9 * 0.9  # the sleep's span lasts the sleep

    kid_entry, kid_run = spans["child t_traced_child"], spans["run t_traced_child"]
    assert kid_run.parent.span_id == kid_entry.context.span_id  # the child's run hangs under the parent's wait
    assert kid_entry.start_time <= kid_run.start_time <= kid_run.end_time <= kid_entry.end_time
    assert spans["step double"].parent.span_id == kid_run.context.span_id

    flaky, attempt = spans["step flaky"], spans["attempt 1 flaky"]
    assert flaky.attributes["logloom.step.attempts"] == 2
    assert attempt.parent.span_id == flaky.context.span_id
    assert attempt.status.status_code is StatusCode.ERROR
    assert attempt.events[0].name == "exception"
    assert flaky.start_time <= attempt.start_time <= attempt.end_time <= flaky.end_time
    assert flaky.end_time - attempt.end_time >= 0.15e9  # the retry waited its retry_after
    assert flaky.status.status_code is StatusCode.OK
