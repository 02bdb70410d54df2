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
import random as random_module
import time
import uuid as uuid_module
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable

from .errors import (DuplicateStepKeyError, RetryableError, SerializationError, StateTooLargeError,
                     StepExecutionError, TerminalError, WaitTimeoutError, step_error_from_record, to_record)
from .events import EventPayload, encode_event, split_topic
from .children import ChildSteps
from .registry import Function, RetryPolicy
from .serde import from_json, to_json
from .session import Session

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


@dataclass(frozen=True)
class Resumed:
    """What ``ctx.step.suspend`` returns: the payload the execution was resumed with."""

    data: Any


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
        self.state = None  # set by the invoker: the workflow's WorkflowState
        self._session: Session | None = None

    @property
    def session(self) -> Session:
        """The run's session (``session_id`` at invoke): ``await ctx.session.state.get/set(...)``."""
        if self._session is None:
            self._session = Session(self)
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

    async def batch(self, fn: Callable, items: list, max_concurrency: int = 10, continue_on_failure: bool = True,
                    name: str | None = None) -> BatchResult:
        """Run ``fn`` once per item as durable steps, at most ``max_concurrency`` at a time.

        Each item is its own step (``batch:<fn>:<n>[<i>]``): after a crash only the items
        without a recorded outcome run. A dict item is passed as keyword arguments, a
        tuple as positional ones, anything else as the one argument. With
        ``continue_on_failure=False`` the first failure is raised and the rest cancelled.
        """
        calls = self.step._reserve_batch(fn, items, name)
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

    async def sleep(self, seconds: float | timedelta, name: str | None = None) -> None:
        """Durable sleep (AGNT5 style): survives restarts; a restart waits only what remains."""
        if isinstance(seconds, timedelta):
            seconds = seconds.total_seconds()
        key = self.step._key(name, "sleep")
        await self.step._timer(key, int((time.time() + seconds) * 1000))

    async def wait_for_user(self, question: str, input_type: str = "text", options: list | None = None, *,
                            name: str | None = None, timeout: float | None = None) -> Any:
        """Ask a person (AGNT5 style); returns their answer: the chosen option id, or the text.

        ``input_type`` is ``text``, ``approval``, ``select`` or ``multiselect``. Resume it with
        ``client.resume(execution_id, name, answer)`` or ``logloom resume``.
        """
        if input_type not in ("text", "approval", "select", "multiselect"):
            raise ValueError(f"input_type must be text, approval, select or multiselect, not {input_type!r}")
        key = self.step._key(name, "wait_for_user")
        data = {"question": question, "input_type": input_type, "options": options or []}
        resumed = await self.step._suspend(key, data, timeout)
        return resumed.data


class StepApi(ChildSteps):
    """``ctx.step``: Polos-style ``ctx.step.run(name, fn, ...)`` and AGNT5-style ``ctx.step(fn, ...)``.

    Child workflows (``invoke``, ``invoke_and_wait``, ``batch_invoke``...) are in ``children.py``.
    """

    def __init__(self, ctx: WorkflowContext, run: "ExecutionRun"):
        self._ctx = ctx
        self._run = run
        self._occurrences: dict[str, int] = {}
        self._explicit_keys: set[str] = set()

    async def run(self, name: str, fn: Callable, *args, max_retries: int = 0, base_delay: float = 1.0,
                  max_delay: float = 10.0, **kwargs) -> Any:
        """Run ``fn(*args, **kwargs)`` as the durable step ``name``; returns its recorded result."""
        self._explicit(name)
        policy = RetryPolicy(max_retries, base_delay, max_delay)
        if isinstance(fn, Function):
            policy = fn.retry if max_retries == 0 else policy
            return await self._step(name, fn.fn, args, kwargs, policy, pass_context=True)
        return await self._step(name, fn, args, kwargs, policy, pass_context=False)

    async def __call__(self, fn: Callable, *args, key: str | None = None, **kwargs) -> Any:
        """Run ``fn`` as a durable step keyed by its name and occurrence, or by ``key=``."""
        is_function = isinstance(fn, Function)
        key = self._key(key, fn.name if is_function else getattr(fn, "__name__", "step"))
        if is_function:
            return await self._step(key, fn.fn, args, kwargs, fn.retry, pass_context=True)
        return await self._step(key, fn, args, kwargs, RetryPolicy(), pass_context=False)

    def _reserve_batch(self, fn: Callable, items: list, name: str | None) -> list[Callable]:
        """Keys and positions for every item, taken now in item order (so replay matches)."""
        is_function = isinstance(fn, Function)
        base = self._key(name, f"batch:{fn.name if is_function else getattr(fn, '__name__', 'step')}")
        body, policy = (fn.fn, fn.retry) if is_function else (fn, RetryPolicy())
        calls = []
        for i, item in enumerate(items):
            args, kwargs = ((), item) if isinstance(item, dict) else (item, {}) if isinstance(item, tuple) else ((item,), {})
            seq = self._run.next_seq()
            calls.append(lambda key=f"{base}[{i}]", args=args, kwargs=kwargs, seq=seq: self._step(
                key, body, args, kwargs, policy, pass_context=is_function, seq=seq))
        return calls

    # -- deterministic values: recorded once, the same on every replay ----------------------

    async def uuid(self, name: str) -> str:
        """A random UUID (string), recorded as the step ``name``."""
        return await self.run(name, lambda: str(uuid_module.uuid4()))

    async def now(self, name: str) -> datetime:
        """The current time (aware UTC), recorded as the step ``name``."""
        return datetime.fromisoformat(await self.run(name, lambda: datetime.now(timezone.utc).isoformat()))

    async def random(self, name: str) -> float:
        """A random float in [0, 1), recorded as the step ``name``."""
        return await self.run(name, random_module.random)

    async def publish_event(self, name: str, topic: str, data: Any, key: str | None = None) -> dict:
        """Publish a domain event as the step ``name``: recorded once, published at least once."""
        log = self._run.processor.log

        async def publish() -> dict:
            topic_name, topic_key = split_topic(topic)
            event_key = topic_key if topic_key is not None else key
            partition, offset = await log.publish(topic_name, None if event_key is None else event_key.encode(),
                                                  encode_event(data))
            return {"topic": topic_name, "partition": partition, "offset": offset}
        return await self.run(name, publish)

    # -- waits: durable sleeps and suspensions --------------------------------------------

    async def wait_for(self, name: str, *, seconds: float = 0, minutes: float = 0, hours: float = 0,
                       days: float = 0) -> None:
        """Durable sleep for the given duration, as the wait ``name``."""
        delay = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds).total_seconds()
        await self._timer(self._explicit(name), int((time.time() + delay) * 1000))

    async def wait_until(self, name: str, when: datetime) -> None:
        """Durable sleep until ``when`` (an aware datetime; naive means UTC)."""
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        await self._timer(self._explicit(name), int(when.timestamp() * 1000))

    async def suspend(self, name: str, data: Any = None, timeout: float | timedelta | None = None) -> Resumed:
        """Wait until someone resumes this execution at ``name``; returns their payload.

        With ``timeout`` (seconds or timedelta), raises ``WaitTimeoutError`` when it passes.
        """
        return await self._suspend(self._explicit(name), data, timeout)

    async def wait_for_event(self, name: str, topic: str, timeout: float | timedelta | None = None):
        """Wait for the next event on a domain topic (``name`` or ``name/KEY``); returns an ``EventPayload``.

        Delivered: the first event on that topic/key after this execution was created (or
        after the last event it already received there), even one published before the
        workflow reached this wait. With ``timeout``, raises ``WaitTimeoutError``.
        """
        key = self._explicit(name)
        topic_name, event_key = split_topic(topic)
        if isinstance(timeout, timedelta):
            timeout = timeout.total_seconds()
        timeout_at = None if timeout is None else int((time.time() + timeout) * 1000)
        event = await self._wait(key, "EventAwaited", {"topic": topic_name, "event_key": event_key,
                                                       "timeout_at": timeout_at})
        return EventPayload(**event)

    def _explicit(self, key: str) -> str:
        if key in self._explicit_keys:
            raise DuplicateStepKeyError(
                f"execution {self._ctx.execution_id}: step key {key!r} is used twice; step keys must be unique")
        self._explicit_keys.add(key)
        return key

    def _key(self, name: str | None, base: str) -> str:
        if name is not None:
            return self._explicit(name)
        count = self._occurrences.get(base, 0) + 1
        self._occurrences[base] = count
        return f"{base}:{count}"

    async def _timer(self, key: str, due_at: int) -> None:
        await self._wait(key, "TimerScheduled", {"due_at": due_at})

    async def _suspend(self, key: str, data: Any, timeout: float | timedelta | None) -> Resumed:
        if isinstance(timeout, timedelta):
            timeout = timeout.total_seconds()
        timeout_at = None if timeout is None else int((time.time() + timeout) * 1000)
        payload = to_json(data, f"data of suspension {key!r} of execution {self._ctx.execution_id}")
        return Resumed(await self._wait(key, "Suspended", {"data": payload, "timeout_at": timeout_at}))

    async def _wait(self, key: str, record_type: str, fields: dict) -> Any:
        """A wait: its recorded result, or the error it ended with."""
        entry = await self._entry(key, record_type, lambda: fields)
        if entry["status"] == "completed":
            if entry.get("kind") == "timer":  # its TimerFired may come a little early: sleep the rest
                await _sleep_until(entry["due_at"])
            return from_json(entry["result"])
        if entry["error"]["code"] == "TIMEOUT":
            raise WaitTimeoutError(entry["error"]["message"], execution_id=self._ctx.execution_id, wait=key)
        raise step_error_from_record(entry["error"], self._ctx.execution_id)

    async def _entry(self, key: str, record_type: str, make_fields: Callable[[], dict],
                     seq: int | None = None) -> dict:
        """A step that is one record (a wait, a child, a session write), until it has ended.

        1. position and key, 2. the journal, 3. record it (``make_fields`` runs only then,
        so its checks judge the present, never a replay), 4. park while it waits.
        """
        run = self._run
        run.check_cancelled()
        seq = run.next_seq() if seq is None else seq
        entry = run.journal.recorded(seq, key)
        if entry is None:
            entry = await run.record_step(record_type, seq, key, **make_fields())
        if entry["status"] == "waiting":
            entry = await run.park(seq, entry.get("due_at") or entry.get("timeout_at"))
        run.journal.check_key(seq, key, entry)
        return entry

    async def _step(self, key: str, fn: Callable, args: tuple, kwargs: dict, policy: RetryPolicy,
                    pass_context: bool, seq: int | None = None) -> Any:
        run = self._run
        execution_id = self._ctx.execution_id
        run.check_cancelled()
        seq = run.next_seq() if seq is None else seq               # 1.
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
            failure: Exception | None = None
            run.busy()
            try:
                value = await _call(fn, args, kwargs, FunctionContext(self._ctx, info) if pass_context else None, info)
                result = to_json(value, f"result of step {key!r} of execution {execution_id}")
            except Exception as exc:
                failure = exc
            finally:
                run.idle()
            if failure is None:                                     # 5.
                try:
                    checkpoint = run.checkpoint()
                except StateTooLargeError as exc:
                    failure = exc
                else:
                    entry = await run.record_step("StepCompleted", seq, key, attempt=attempt, result=result,
                                                  state=checkpoint)
                    break
            error = to_record(failure, step=key)
            if isinstance(failure, (SerializationError, TerminalError)) or attempt > policy.max_retries:
                if not isinstance(failure, (SerializationError, TerminalError)):
                    error["message"] = f"{error['message']} (gave up after {attempt} attempts)"
                entry = await run.record_step("StepFailed", seq, key, attempt=attempt, error=error,
                                              state=run.checkpoint(or_none=True))
                break
            delay = failure.retry_after if isinstance(failure, RetryableError) and failure.retry_after is not None \
                else policy.delay(attempt)
            retry_at = int((time.time() + delay) * 1000)
            logger.warning("execution %s step %r attempt %d failed (%s); retrying in %.2fs",
                           execution_id, key, attempt, error["message"], delay)
            entry = await run.record_step("StepAttemptFailed", seq, key, attempt=attempt, error=error,
                                          retry_at=retry_at)
            if entry["status"] != "retrying":
                break
            attempt = entry["attempt"] + 1
            await _sleep_until(entry["retry_at"])
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
