"""A real ``logloom worker`` process: spans reach an OTLP/HTTP receiver configured only by
``OTEL_*`` variables, and ``/metrics`` on its health port counts what it ran."""

from __future__ import annotations

import re
import signal
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from helpers import ROOT, assert_eventually, run_cli, spawn

from engine.observability import ids

trace_service_pb2 = pytest.importorskip("opentelemetry.proto.collector.trace.v1.trace_service_pb2")

APP = str(ROOT / "examples" / "orders.py")
ORDER = '{"order_id": "o-otlp", "amount": 5}'


class Receiver:
    """A tiny OTLP/HTTP trace receiver: decodes each ``ExportTraceServiceRequest``."""

    def __init__(self):
        self.spans: list = []  # (trace id hex, span id hex, parent span id hex, name, service name)
        received = self.spans

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = trace_service_pb2.ExportTraceServiceRequest.FromString(body)
                for resource_spans in request.resource_spans:
                    service = next(
                        (a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"),
                        None,
                    )
                    for scope_spans in resource_spans.scope_spans:
                        for span in scope_spans.spans:
                            received.append(
                                (span.trace_id.hex(), span.span_id.hex(), span.parent_span_id.hex(), span.name, service)
                            )
                answer = trace_service_pb2.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


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

        def run_spans() -> list:
            return [s for s in receiver.spans if s[3] == "run process_order"]

        await assert_eventually(lambda: run_spans(), timeout=30, message="the run's span reached the receiver")
        trace, span, parent, _, service = run_spans()[0]
        assert service == "orders-worker"
        assert trace == ids.format_trace_id(ids.trace_id(execution_id)) and parent == ""
        steps = {s[3] for s in receiver.spans if s[2] == span}
        assert {"step validate", "step charge"} <= steps

        metrics = scrape(port)
        assert sample(metrics, "logloom_runs_started_total", workflow="process_order") == 1
        assert sample(metrics, "logloom_runs_ended_total", workflow="process_order", status="completed") == 1
        assert sample(metrics, "logloom_steps_total", status="completed") == 3
        assert sample(metrics, "logloom_step_duration_seconds_count") == 3
        assert sample(metrics, "logloom_partitions_owned") == 4
        assert "logloom_partition_lag_records" in metrics and "logloom_runs_deferred" in metrics

        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=60) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
        receiver.close()
