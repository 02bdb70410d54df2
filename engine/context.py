"""Where user code meets the journal: ``WorkflowContext`` and its step API.

Every step call gets a position (``seq``) in the workflow's call order and a key. The
step protocol, for each call:

1. Take the next position and the step's key (explicit name, or function name plus
   occurrence: ``send_confirmation:1``, ``send_confirmation:2``...).
2. Ask the journal what is recorded at that position (``Journal.recorded``). A different
   key there is a ``NondeterminismError``.
3. Recorded as completed or failed: return the recorded result, or raise the recorded
   error. The step body does not run.
4. Otherwise run the body (sync bodies on a worker thread), retrying retryable errors
   with backoff. Each failed attempt is recorded with its due time, so a restart waits
   only for what remains.
5. Append the outcome and wait until the fold has applied it. Only the record that won
   (the first for that position) is returned, so a workflow never sees a result that
   the journal does not hold.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable

from .errors import (DuplicateStepKeyError, RetryableError, SerializationError, TerminalError,
                     step_error_from_record, to_record)
from .journal import Journal
from .registry import Function, RetryPolicy
from .serde import from_json, to_json

if TYPE_CHECKING:
    from .invoker import ExecutionRun

logger = logging.getLogger("engine.workflow")


@dataclass(frozen=True)
class StepInfo:
    execution_id: str
    key: str
    attempt: int

    @property
    def idempotency_key(self) -> str:
        """Stable across attempts, restarts and workers: use it with external APIs."""
        return f"{self.execution_id}/{self.key}"


_current_step: contextvars.ContextVar[StepInfo | None] = contextvars.ContextVar("logloom_step", default=None)


def current_step() -> StepInfo | None:
    """The step whose body is running in this context, or None outside step bodies."""
    return _current_step.get()


def _datetime(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


class FunctionContext:
    """First argument of an ``@function`` step body."""

    def __init__(self, workflow_ctx: "WorkflowContext", step: StepInfo):
        self.execution_id = workflow_ctx.execution_id
        self.workflow_id = workflow_ctx.workflow_id
        self.user_id = workflow_ctx.user_id
        self.session_id = workflow_ctx.session_id
        self.step_key = step.key
        self.attempt = step.attempt
        self.idempotency_key = step.idempotency_key
        self.logger = logger


class WorkflowContext:
    """What a workflow body gets as ``ctx``."""

    def __init__(self, run: "ExecutionRun", row: dict):
        self._run = run
        self.execution_id: str = row["id"]
        self.workflow_id: str = row["workflow"]
        self.user_id: str | None = row.get("user_id")
        self.session_id: str | None = row.get("session_id")
        self.parent_execution_id: str | None = row.get("parent_id")
        self.root_execution_id: str | None = row.get("root_id")
        self.created_at: datetime | None = _datetime(row.get("created_at"))
        self.started_at: datetime | None = _datetime(row.get("started_at"))
        self.step = StepApi(self, run)
        self.logger = logger

    @property
    def step_key(self) -> str | None:
        """Key of the step whose body is running (for idempotency keys), else None."""
        info = current_step()
        return info.key if info else None


class StepApi:
    """``ctx.step``: Polos-style ``ctx.step.run(name, fn, ...)`` and AGNT5-style ``ctx.step(fn, ...)``."""

    def __init__(self, ctx: WorkflowContext, run: "ExecutionRun"):
        self._ctx = ctx
        self._run = run
        self._occurrences: dict[str, int] = {}
        self._explicit_keys: set[str] = set()

    async def run(self, name: str, fn: Callable, *args, max_retries: int = 0, base_delay: float = 1.0,
                  max_delay: float = 10.0, **kwargs) -> Any:
        """Run ``fn(*args, **kwargs)`` as the durable step ``name``; returns its recorded result."""
        if name in self._explicit_keys:
            raise DuplicateStepKeyError(
                f"execution {self._ctx.execution_id}: step key {name!r} is used twice; step keys must be unique")
        self._explicit_keys.add(name)
        policy = RetryPolicy(max_retries, base_delay, max_delay)
        if isinstance(fn, Function):
            policy = fn.retry if max_retries == 0 else policy
            return await self._step(name, fn.fn, args, kwargs, policy, pass_context=True)
        return await self._step(name, fn, args, kwargs, policy, pass_context=False)

    async def __call__(self, fn: Callable, *args, key: str | None = None, **kwargs) -> Any:
        """Run ``fn`` as a durable step keyed by its name and occurrence, or by ``key=``."""
        is_function = isinstance(fn, Function)
        name = fn.name if is_function else getattr(fn, "__name__", "step")
        if key is None:
            count = self._occurrences.get(name, 0) + 1
            self._occurrences[name] = count
            key = f"{name}:{count}"
        elif key in self._explicit_keys:
            raise DuplicateStepKeyError(
                f"execution {self._ctx.execution_id}: step key {key!r} is used twice; step keys must be unique")
        else:
            self._explicit_keys.add(key)
        if is_function:
            return await self._step(key, fn.fn, args, kwargs, fn.retry, pass_context=True)
        return await self._step(key, fn, args, kwargs, RetryPolicy(), pass_context=False)

    async def _step(self, key: str, fn: Callable, args: tuple, kwargs: dict, policy: RetryPolicy,
                    pass_context: bool) -> Any:
        run = self._run
        execution_id = self._ctx.execution_id
        seq = run.next_seq()                                        # 1.
        entry = run.journal.recorded(seq, key)                      # 2.
        attempt = 1
        if entry is not None:                                       # 3.
            if entry["status"] == "completed":
                return from_json(entry["result"])
            if entry["status"] == "failed":
                raise step_error_from_record(entry["error"], execution_id)
            attempt = entry["attempt"] + 1                          # a retry was due
            await _sleep_until(entry["retry_at"])
        while True:                                                 # 4.
            info = StepInfo(execution_id, key, attempt)
            try:
                value = await _call(fn, args, kwargs, FunctionContext(self._ctx, info) if pass_context else None, info)
                result = to_json(value, f"result of step {key!r} of execution {execution_id}")
            except SerializationError as exc:
                entry = await run.record_step("StepFailed", seq, key, attempt, error=to_record(exc, step=key))
                break
            except TerminalError as exc:
                entry = await run.record_step("StepFailed", seq, key, attempt, error=to_record(exc, step=key))
                break
            except Exception as exc:
                error = to_record(exc, step=key)
                if attempt > policy.max_retries:
                    error["message"] = f"{error['message']} (gave up after {attempt} attempts)"
                    entry = await run.record_step("StepFailed", seq, key, attempt, error=error)
                    break
                delay = exc.retry_after if isinstance(exc, RetryableError) and exc.retry_after is not None \
                    else policy.delay(attempt)
                retry_at = int((time.time() + delay) * 1000)
                logger.warning("execution %s step %r attempt %d failed (%s); retrying in %.2fs",
                               execution_id, key, attempt, error["message"], delay)
                entry = await run.record_step("StepAttemptFailed", seq, key, attempt, error=error,
                                              retry_at=retry_at)
                if entry["status"] != "retrying":
                    break
                attempt = entry["attempt"] + 1
                await _sleep_until(entry["retry_at"])
                continue
            entry = await run.record_step("StepCompleted", seq, key, attempt, result=result)   # 5.
            break
        run.journal.check_key(seq, key, entry)
        if entry["status"] == "completed":
            return from_json(entry["result"])
        raise step_error_from_record(entry["error"], execution_id)


async def _call(fn: Callable, args: tuple, kwargs: dict, fctx: FunctionContext | None, info: StepInfo) -> Any:
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


async def _sleep_until(due_ms: int) -> None:
    remaining = due_ms / 1000 - time.time()
    if remaining > 0:
        await asyncio.sleep(remaining)
