"""SDK spans from ``SpanSpec``s, with the ids and times they carry, and where they go.

Spans are built whole (``ReadableSpan`` with explicit ids, parent and start/end times)
and handed to a span processor's ``on_end``, the way the SDK's own tracer hands over a
finished span; no tracer, no id generator, no context is involved. Where they go is
configured only by the standard ``OTEL_*`` variables, read by the SDK itself:
``OTEL_TRACES_EXPORTER`` (``otlp``, the default, ``console`` or ``none``, found by the
SDK's ``opentelemetry_traces_exporter`` entry points; ``otlp`` is OTLP over HTTP unless
``OTEL_EXPORTER_OTLP_PROTOCOL=grpc`` and the gRPC exporter is installed), ``OTEL_EXPORTER_OTLP_ENDPOINT``
and the other exporter variables (read by the exporter), ``OTEL_SERVICE_NAME`` and
``OTEL_RESOURCE_ATTRIBUTES`` (``Resource.create``), ``OTEL_BSP_*`` (the batch processor).
"""

from __future__ import annotations

import os
from importlib.metadata import entry_points

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from .spec import SpanSpec

SCOPE = InstrumentationScope("logloom", None)
DEFAULT_SERVICE_NAME = "logloom-worker"
_NS_PER_MS = 1_000_000
_SAMPLED = TraceFlags(TraceFlags.SAMPLED)


def processor_from_env() -> SpanProcessor | None:
    """A batch processor over the exporter ``OTEL_TRACES_EXPORTER`` names (``otlp`` if
    unset), or None for ``none``."""
    name = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").split(",")[0].strip() or "otlp"
    if name == "none":
        return None
    if name == "otlp":  # the SDK's rule: the protocol variable picks the transport
        protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
            "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
        )
        name = "otlp_proto_grpc" if protocol.strip() == "grpc" else "otlp_proto_http"
    found = entry_points(group="opentelemetry_traces_exporter", name=name)
    if not found:
        raise RuntimeError(f"OTEL_TRACES_EXPORTER={name!r}: no such span exporter is installed")
    exporter_class = next(iter(found)).load()
    return BatchSpanProcessor(exporter_class())


def resource_from_env() -> Resource:
    """``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``; ``logloom-worker`` if unnamed."""
    if os.environ.get("OTEL_SERVICE_NAME") or "service.name=" in os.environ.get("OTEL_RESOURCE_ATTRIBUTES", ""):
        return Resource.create()
    return Resource.create({"service.name": DEFAULT_SERVICE_NAME})


def readable_span(spec: SpanSpec, resource: Resource) -> ReadableSpan:
    context = SpanContext(spec.trace_id, spec.span_id, is_remote=False, trace_flags=_SAMPLED)
    parent = None
    if spec.parent_span_id is not None:
        parent = SpanContext(spec.trace_id, spec.parent_span_id, is_remote=False, trace_flags=_SAMPLED)
    elif spec.remote_parent is not None:
        trace, span, flags = spec.remote_parent
        parent = SpanContext(trace, span, is_remote=True, trace_flags=TraceFlags(flags))
    status = Status(StatusCode.ERROR, spec.error) if spec.error else Status(StatusCode.OK)
    return ReadableSpan(
        name=spec.name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=spec.attributes,
        events=[Event(e.name, e.attributes, e.at_ms * _NS_PER_MS) for e in spec.events],
        kind=SpanKind.INTERNAL,
        status=status,
        start_time=spec.start_ms * _NS_PER_MS,
        end_time=spec.end_ms * _NS_PER_MS,
        instrumentation_scope=SCOPE,
    )
