"""Tracing across a kill -9: the run's spans continue one trace on the next worker, and no
span is exported twice under two ids, nor a span id given to two things."""

from __future__ import annotations

import pytest
from helpers import assert_eventually, run_cli, spawn
from processes import APP, Effects, kill9, owning, stop

from engine.observability import ids

pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")
from otlp_receiver import Receiver  # noqa: E402

pytestmark = pytest.mark.chaos


def traced_worker(fx: Effects, where: list[str], receiver: Receiver, log_file):
    env = {
        **fx.env,
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }
    return spawn("worker", APP, *where, "--partitions", "4", "-v", env=env, log_file=log_file)


async def test_a_run_killed_mid_step_continues_its_trace_on_the_next_worker(
    tmp_path, log_kind, kafka_if_needed, namespace
):
    fx = Effects(tmp_path)
    receiver = Receiver()
    where = ["--data-dir", str(tmp_path / "data")]
    if log_kind == "kafka":
        where = [*where, "--kafka", kafka_if_needed, "--namespace", namespace]
    execution_id = f"trace-crash-{namespace}"
    first = traced_worker(fx, where, receiver, tmp_path / "a.log")
    procs = [first]
    try:
        await owning(first, tmp_path / "a.log", "a")
        done = run_cli("invoke", "crashy", "--input", '{"n": 1}', "--execution-id", execution_id, *where)
        assert done.returncode == 0, done.stderr
        await assert_eventually(lambda: fx.count(execution_id, "three", "start") == 1, timeout=60)
        await assert_eventually(lambda: receiver.named("step two"), timeout=30, message="step two's span exported")
        kill9(first)
        before = list(receiver.spans)

        second_dir = [] if log_kind == "embedded" else ["--data-dir", str(tmp_path / "data-b")]
        second = traced_worker(fx, [*where, *second_dir], receiver, tmp_path / "b.log")
        procs.append(second)
        fx.open_gate(execution_id)
        await assert_eventually(lambda: receiver.named("run crashy"), timeout=90, message="the run's span")
        await assert_eventually(lambda: receiver.named("step three"), timeout=10, message="step three's span")
    finally:
        for proc in procs:
            stop(proc)
        receiver.close()

    spans = receiver.spans
    assert len({s.span_id for s in spans}) == len(spans), "no span id is exported twice"
    assert {s.name for s in before} == {"step one", "step two"}, "the first worker ended these"
    (run,) = receiver.named("run crashy")
    trace = ids.format_trace_id(ids.trace_id(execution_id))
    assert {s.trace_id for s in spans} == {trace}, "both workers' spans are in the run's one trace"
    assert run.span_id == ids.format_span_id(ids.run_span(execution_id))
    assert {s.parent_span_id for s in spans if s.name.startswith("step ")} == {run.span_id}
    first_step = receiver.named("step one")[0]
    assert run.start_ns <= first_step.start_ns < receiver.named("step three")[0].end_ns <= run.end_ns
    assert fx.count(execution_id, "three") == 1
