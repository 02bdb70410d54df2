"""Trace and span ids derived from what the journal records, never drawn at random.

The trace id is the first 16 bytes of SHA-256 of the ROOT execution id, so every run of
a tree, and a run that resumes on another worker days later, is in the same trace (when
the root was invoked with a ``traceparent``, the tree is in the caller's trace instead,
recorded with the invocation: ``model.trace_of``). A
span id is the first 8 bytes of SHA-256 of (execution id, what the span is: ``run``,
``entry:<seq>``, ``entry:<seq>:attempt:<n>``, ``model:<seq>``...), so a record folded
again after a crash gives the span it gave the first time. Both are never 0 (an invalid
id in OpenTelemetry): a zero hash prefix, which SHA-256 makes astronomically unlikely,
maps to 1.
"""

from __future__ import annotations

import hashlib


def trace_id(root_execution_id: str) -> int:
    """The 128-bit trace id of the tree whose root run is ``root_execution_id``."""
    return int.from_bytes(hashlib.sha256(root_execution_id.encode()).digest()[:16], "big") or 1


def span_id(execution_id: str, what: str) -> int:
    """The 64-bit id of the span ``what`` of execution ``execution_id``."""
    digest = hashlib.sha256(f"{execution_id}\x00{what}".encode()).digest()
    return int.from_bytes(digest[:8], "big") or 1


def run_span(execution_id: str) -> int:
    return span_id(execution_id, "run")


def entry_span(execution_id: str, seq: int) -> int:
    """A journal position's span: a step, a wait or a child (``ctx.step`` calls)."""
    return span_id(execution_id, f"entry:{seq}")


def attempt_span(execution_id: str, seq: int, attempt: int) -> int:
    return span_id(execution_id, f"entry:{seq}:attempt:{attempt}")


def format_trace_id(value: int) -> str:
    return f"{value:032x}"


def format_span_id(value: int) -> str:
    return f"{value:016x}"
