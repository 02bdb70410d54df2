"""The port: what the user API needs from a runtime, for one running execution.

``workflow/`` never imports the runtime. A ``WorkflowContext`` is built around an object
with this surface; the worker's ``ExecutionRun`` (``engine.runtime.run``) is the one that
appends to the log and waits for the fold, and a debug-replay runtime can be another.
The user API decides *what* a step does (``journal.decide``); the port does it.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from ..wire.records import Record
from .journal import Journal
from .registry import Registry


class RecordBuilder(Protocol):
    """A builder of an owner record in ``engine.wire.records`` (``step_completed``, ...)."""

    def __call__(self, execution_id: str, epoch: int, at_ms: int, **fields: Any) -> Record: ...


class RunPort(Protocol):
    execution_id: str
    journal: Journal
    registry: Registry  # resolves workflow names of children
    row: dict  # the execution's row as the run started (its session, its queue)

    def next_seq(self) -> int:
        """The next step position, in call order."""

    def peek_seq(self) -> int:
        """The position ``next_seq`` would give, without taking it."""

    def check_cancelled(self) -> None:
        """Raise ``CancelledByRequest`` if the execution was asked to stop."""

    def checkpoint(self, or_none: bool = False) -> str | None:
        """The state's JSON to record with a step, or None if it is as last recorded."""

    def ownership_in_doubt(self) -> bool:
        """Whether the runtime must confirm it still owns the run before a step body runs."""

    async def confirm_ownership(self) -> None:
        """Wait until it knows; raise (the run stops) if it does not own the run any more."""

    def busy(self) -> None:
        """A step body starts running (the run is not idle)."""

    def idle(self) -> None:
        """A step body finished running."""

    async def record_step(self, build: RecordBuilder, seq: int, key: str, **fields: Any) -> dict:
        """1. append the record ``build`` makes, 2. await its fold; the entry that won at ``seq``."""

    async def park(self, seq: int, due_at_ms: int | None) -> dict:
        """Wait, holding no worker busy, until the fold ends the wait at ``seq``; its entry."""

    async def publish(self, topic: str, key: bytes | None, value: bytes) -> tuple[int, int]:
        """Publish a domain event; (partition, offset) once durable."""

    async def stream_topic(self) -> str:
        """The namespace's stream topic (``names.stream_topic``), created if it is not there yet."""

    def publish_nowait(self, topic: str, key: bytes, value: bytes) -> asyncio.Future:
        """Start publishing to a named topic; what is started in order is written in order.
        The future gives (partition, offset) once durable."""

    def session_state(self, session_id: str) -> dict:
        """The session's state document as folded so far: key -> JSON of its value."""
