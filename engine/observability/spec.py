"""A span as the span model makes it: ids, times in ms and attributes, no OpenTelemetry types."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SpanEvent:
    name: str
    at_ms: int
    attributes: dict = field(default_factory=dict)


@dataclass(frozen=True)
class SpanSpec:
    name: str
    trace_id: int
    span_id: int
    parent_span_id: int | None  # None: a root span (or the remote ``traceparent``'s child)
    start_ms: int
    end_ms: int
    attributes: dict
    error: str | None = None  # the status description when the span failed
    events: tuple[SpanEvent, ...] = ()
    remote_parent: tuple[int, int, int] | None = None  # (trace id, span id, flags) of a ``traceparent``
