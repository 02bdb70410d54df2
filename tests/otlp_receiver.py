"""A tiny OTLP/HTTP trace receiver for tests: an ``http.server`` on loopback that decodes
each ``ExportTraceServiceRequest`` (``opentelemetry.proto``) and keeps its spans."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple

from opentelemetry.proto.collector.trace.v1 import trace_service_pb2


class ReceivedSpan(NamedTuple):
    trace_id: str  # hex
    span_id: str
    parent_span_id: str  # "" for a root span
    name: str
    service: str | None
    start_ns: int
    end_ns: int


class Receiver:
    """A tiny OTLP/HTTP trace receiver: decodes each ``ExportTraceServiceRequest``."""

    def __init__(self):
        self.spans: list[ReceivedSpan] = []
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
                                ReceivedSpan(
                                    span.trace_id.hex(), span.span_id.hex(), span.parent_span_id.hex(), span.name,
                                    service, span.start_time_unix_nano, span.end_time_unix_nano,
                                )
                            )  # fmt: skip
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

    def named(self, name: str) -> list[ReceivedSpan]:
        return [s for s in list(self.spans) if s.name == name]

    def close(self):
        self.server.shutdown()
        self.server.server_close()
