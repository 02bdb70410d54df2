"""Observability: OpenTelemetry tracing through workflow hooks, and worker metrics.

``Tracing`` needs the ``otel`` extra (``opentelemetry-sdk``,
``opentelemetry-exporter-otlp-proto-http``); it is imported only when used, so
``import engine`` never loads OpenTelemetry. docs/observability.md.
"""

from __future__ import annotations

from .ids import span_id, trace_id

__all__ = ["Tracing", "span_id", "trace_id"]


def __getattr__(name: str):
    if name == "Tracing":
        from .tracing import Tracing

        return Tracing
    raise AttributeError(name)
