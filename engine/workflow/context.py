"""``WorkflowContext``: what a workflow body gets as ``ctx``.

It is built by a runtime around its port (``port.RunPort``). ``ctx.step`` is the step
API (``step_api.py``); the AGNT5-style helpers here (``parallel``, ``batch``, ``sleep``,
``wait_for_user``...) are steps of the same protocol (``steps.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ..clock import ms_after, to_datetime
from ..errors import StepExecutionError
from .port import RunPort
from .run_stream import RunStream
from .session import Session
from .step_api import StepApi
from .step_context import current_step, logger
from .steps import StepRunner, in_seconds


@dataclass(frozen=True)
class BatchStats:
    total_items: int
    completed_items: int
    failed_items: int


@dataclass(frozen=True)
class BatchResult:
    """What ``ctx.batch`` returns: per item, its result (None if it failed) and its error."""

    results: list
    errors: list  # per item: None, or the StepExecutionError it ended with
    stats: BatchStats


class WorkflowContext:
    """What a workflow body gets as ``ctx``."""

    def __init__(self, run: RunPort, row: dict):
        self.execution_id: str = row["id"]
        self.workflow_id: str = row["workflow"]
        self.user_id: str | None = row.get("user_id")
        self.session_id: str | None = row.get("session_id")
        self.parent_execution_id: str | None = row.get("parent_id")
        self.root_execution_id: str | None = row.get("root_id")
        self.created_at: datetime | None = to_datetime(row.get("created_at"))
        self.started_at: datetime | None = to_datetime(row.get("started_at"))
        self._steps = StepRunner(self, run)
        self.step = StepApi(self._steps)
        self.logger = logger
        self.state = None  # set by the runtime: the workflow's WorkflowState
        self._session: Session | None = None
        self._stream: RunStream | None = None

    @property
    def stream(self) -> RunStream:
        """The run's stream (``await ctx.stream.emit(kind, data)``): not recorded."""
        if self._stream is None:
            self._stream = RunStream(self._steps.run, self.execution_id, self.workflow_id, self.root_execution_id)
        return self._stream

    @property
    def session(self) -> Session:
        """The run's session (``session_id`` at invoke): ``await ctx.session.state.get/set(...)``."""
        if self._session is None:
            self._session = Session(self.session_id, self._steps)
        return self._session

    @property
    def step_key(self) -> str | None:
        """Key of the step whose body is running (for idempotency keys), else None."""
        info = current_step()
        return info.key if info else None

    async def parallel(self, *awaitables) -> list:
        """Run step calls concurrently; their results in argument order (AGNT5 ``ctx.parallel``)."""
        return list(await asyncio.gather(*awaitables))

    async def gather(self, **named) -> dict:
        """Run named step calls concurrently; a dict of their results (AGNT5 ``ctx.gather``)."""
        results = await asyncio.gather(*named.values())
        return dict(zip(named, results))

    async def batch(
        self,
        fn: Callable,
        items: list,
        max_concurrency: int = 10,
        continue_on_failure: bool = True,
        name: str | None = None,
    ) -> BatchResult:
        """Run ``fn`` once per item as durable steps, at most ``max_concurrency`` at a time.

        Each item is its own step (``batch:<fn>:<n>[<i>]``): after a crash only the items
        without a recorded outcome run. A dict item is passed as keyword arguments, a
        tuple as positional ones, anything else as the one argument. With
        ``continue_on_failure=False`` the first failure is raised and the rest cancelled.
        """
        calls = self._steps.reserve_batch(fn, items, name)
        limit = asyncio.Semaphore(max_concurrency)

        async def one(call):
            async with limit:
                return await call()

        if not continue_on_failure:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(call)) for call in calls]
            results = [task.result() for task in tasks]
            return BatchResult(results, [None] * len(results), BatchStats(len(results), len(results), 0))
        outcomes = await asyncio.gather(*(one(call) for call in calls), return_exceptions=True)
        errors = [o if isinstance(o, StepExecutionError) else None for o in outcomes]
        for outcome in outcomes:
            if isinstance(outcome, BaseException) and not isinstance(outcome, StepExecutionError):
                raise outcome  # engine signals and cancellation are not item failures
        results = [None if e is not None else o for o, e in zip(outcomes, errors)]
        failed = sum(e is not None for e in errors)
        return BatchResult(results, errors, BatchStats(len(items), len(items) - failed, failed))

    async def map(self, fn: Callable, items: list, max_concurrency: int = 10, name: str | None = None) -> list:
        """``batch`` that raises the first failure; returns the results in item order."""
        try:
            return (await self.batch(fn, items, max_concurrency, continue_on_failure=False, name=name)).results
        except ExceptionGroup as group:
            raise group.exceptions[0] from None

    async def patched(self, change_id: str) -> bool:
        """True where this run takes the new code of the change ``change_id``; False in a
        run that recorded the old code's steps at this point before the change was deployed,
        so that it replays the old way (Temporal's ``patched``)::

            if await ctx.patched("fraud-check"):
                await ctx.step.run("fraud_check", check_fraud, order_id)
            charge_id = await ctx.step.run("charge", charge_card, order_id)

        New runs, and runs that had not reached this point, record the marker and go the
        new way. Once no run of the old code is left, drop the branch and the old code.
        """
        return await self._steps.patched(change_id)

    async def sleep(self, seconds: float | timedelta, name: str | None = None) -> None:
        """Durable sleep (AGNT5 style): survives restarts; a restart waits only what remains."""
        key = self._steps.keys.derived(name, "sleep")
        await self._steps.sleep(key, ms_after(in_seconds(seconds)))

    async def wait_for_user(
        self,
        question: str,
        input_type: str = "text",
        options: list | None = None,
        *,
        name: str | None = None,
        timeout: float | None = None,
    ) -> Any:
        """Ask a person (AGNT5 style); returns their answer: the chosen option id, or the text.

        ``input_type`` is ``text``, ``approval``, ``select`` or ``multiselect``. Resume it with
        ``client.resume(execution_id, name, answer)`` or ``logloom resume``.
        """
        if input_type not in ("text", "approval", "select", "multiselect"):
            raise ValueError(f"input_type must be text, approval, select or multiselect, not {input_type!r}")
        key = self._steps.keys.derived(name, "wait_for_user")
        data = {"question": question, "input_type": input_type, "options": options or []}
        resumed = await self._steps.suspend(key, data, timeout)
        return resumed.data
