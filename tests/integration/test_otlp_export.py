"""A real ``logloom worker`` process: spans reach an OTLP/HTTP receiver configured only by
``OTEL_*`` variables, and ``/metrics`` on its health port counts what it ran."""

from __future__ import annotations

import re
import signal
import urllib.request

import pytest
from helpers import ROOT, assert_eventually, run_cli, spawn

from engine.observability import ids

pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")
from otlp_receiver import Receiver  # noqa: E402

APP = str(ROOT / "examples" / "orders.py")
ORDER = '{"order_id": "o-otlp", "amount": 5}'


def scrape(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain")
        return answer.read().decode()


def sample(text: str, name: str, **labels) -> float:
    """The value of the sample ``name{labels}`` in a Prometheus exposition (0 if absent)."""
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0])) if "{" in line else {}
            if all(found.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return 0.0


async def test_a_worker_process_exports_spans_by_otel_env_and_serves_metrics(
    tmp_path, log_kind, kafka_if_needed, namespace
):
    receiver = Receiver()
    where = ["--data-dir", str(tmp_path / "data")]
    if log_kind == "kafka":
        where = [*where, "--kafka", kafka_if_needed, "--namespace", namespace]
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.port}",
        "OTEL_SERVICE_NAME": "orders-worker",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    log_file = tmp_path / "worker.log"
    worker = spawn("worker", APP, *where, "--partitions", "4", "--health-port", "0", env=env, log_file=log_file)
    try:
        await assert_eventually(
            lambda: worker.poll() is not None or (log_file.exists() and "health on port" in log_file.read_text()),
            timeout=60,
            message=f"the worker started: {log_file}",
        )
        text = log_file.read_text()
        assert worker.poll() is None, text
        assert "tracing on" in text
        port = int(re.search(r"health on port (\d+)", text).group(1))
        execution_id = f"otlp-{namespace}"
        done = run_cli(
            "invoke", "process_order", "--input", ORDER, "--execution-id", execution_id, "--wait", "--json", *where,
            timeout=90,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

        await assert_eventually(
            lambda: receiver.named("run process_order"), timeout=30, message="the run's span reached the receiver"
        )
        (run,) = receiver.named("run process_order")
        assert run.service == "orders-worker"
        assert run.trace_id == ids.format_trace_id(ids.trace_id(execution_id)) and run.parent_span_id == ""
        steps = {s.name for s in receiver.spans if s.parent_span_id == run.span_id}
        assert {"step validate", "step charge"} <= steps

        metrics = scrape(port)
        assert sample(metrics, "logloom_runs_started_total", workflow="process_order") == 1
        assert sample(metrics, "logloom_runs_ended_total", workflow="process_order", status="completed") == 1
        assert sample(metrics, "logloom_steps_total", status="completed") == 3
        assert sample(metrics, "logloom_step_duration_seconds_count") == 3
        assert sample(metrics, "logloom_partitions_owned") == 4
        assert "logloom_partition_lag_records" in metrics and "logloom_runs_deferred" in metrics
        assert "# TYPE logloom_queue_waiting_runs gauge" in metrics and "logloom_queue_running_runs" in metrics

        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
        receiver.close()
