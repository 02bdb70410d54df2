"""What a step body sees: ``StepInfo``, ``current_step()`` and the ``FunctionContext``."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..clock import seconds_until

logger = logging.getLogger("engine.workflow")


@dataclass(frozen=True)
class StepInfo:
    execution_id: str
    key: str
    attempt: int
    started_at_ms: int = 0  # when the worker started this attempt (ms since the epoch), before its body ran

    @property
    def idempotency_key(self) -> str:
        """Stable across attempts, restarts and workers: use it with external APIs."""
        return f"{self.execution_id}/{self.key}"


_current_step: contextvars.ContextVar[StepInfo | None] = contextvars.ContextVar("logloom_step", default=None)


def current_step() -> StepInfo | None:
    """The step whose body is running in this context, or None outside step bodies."""
    return _current_step.get()


class FunctionContext:
    """First argument of an ``@function`` step body."""

    def __init__(self, workflow_ctx, step: StepInfo):
        self.execution_id = workflow_ctx.execution_id
        self.workflow_id = workflow_ctx.workflow_id
        self.user_id = workflow_ctx.user_id
        self.session_id = workflow_ctx.session_id
        self.step_key = step.key
        self.attempt = step.attempt
        self.idempotency_key = step.idempotency_key
        self.logger = logger


async def call_body(fn: Callable, args: tuple, kwargs: dict, fctx: FunctionContext | None, info: StepInfo) -> Any:
    """Run a step body with ``current_step()`` set; sync bodies on a worker thread."""
    if fctx is not None:
        args = (fctx, *args)
    token = _current_step.set(info)
    try:
        if inspect.iscoroutinefunction(fn):
            return await fn(*args, **kwargs)
        value = await asyncio.to_thread(fn, *args, **kwargs)
        if inspect.isawaitable(value):
            value = await value
        return value
    finally:
        _current_step.reset(token)


async def sleep_until(at_ms: int) -> None:
    remaining_s = seconds_until(at_ms)
    if remaining_s > 0:
        await asyncio.sleep(remaining_s)
