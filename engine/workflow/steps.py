"""Where user code meets the journal: the step protocol of one execution.

Every step call gets a position (``seq``) in the workflow's call order and a key. For
each call:

1. Take the next position and the step's key (explicit name, or function name plus
   occurrence: ``send_confirmation:1``, ``send_confirmation:2``...).
2. Decide from the journal (``journal.decide``): replay the recorded outcome, run the
   body, or park on an open wait. A different key there is a ``NondeterminismError``.
3. Replay: return the recorded result, or raise the recorded error. The body does not run.
4. Run: run the body (sync bodies on a worker thread), retrying retryable errors with
   backoff. Each failed attempt is recorded with its due time, so a restart waits only
   for what remains.
5. Append the outcome through the port and wait until the fold has applied it. Only the
   record that won (the first for that position) is returned, so a workflow never sees
   a result that the journal does not hold.

A step that is one record (a wait, a child, a session write) follows the same numbers
in ``entry``: its record is the outcome, and an open wait parks until the fold ends it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from ..clock import ms_after, now_ms
from ..errors import (
    DuplicateStepKeyError,
    NondeterminismError,
    RetryableError,
    SerializationError,
    StateTooLargeError,
    StepExecutionError,
    TerminalError,
    WaitTimeoutError,
    step_error_from_record,
    to_record,
)
from ..fold.rows import EntryKind, EntryStatus
from ..wire import records
from ..wire.serde import from_json, to_json
from .journal import Park, Replay, Run, decide
from .port import RecordBuilder, RunPort
from .registry import Function, RetryPolicy
from .step_context import FunctionContext, StepInfo, call_body, logger, sleep_until

# Read at every step, as module names (docs/architecture.md: enum members on hot paths).
_COMPLETED, _WAITING, _TIMER = EntryStatus.COMPLETED, EntryStatus.WAITING, EntryKind.TIMER


@dataclass(frozen=True)
class Resumed:
    """What ``ctx.step.suspend`` returns: the payload the execution was resumed with."""

    data: Any


def in_seconds(duration: float | timedelta | None) -> float | None:
    """A duration the user API takes as seconds or a ``timedelta``, in seconds."""
    return duration.total_seconds() if isinstance(duration, timedelta) else duration


class StepKeys:
    """Step keys of one execution: explicit names are unique; derived ones count occurrences."""

    __slots__ = ("execution_id", "_occurrences", "_explicit")  # one per run, like the objects below

    def __init__(self, execution_id: str):
        self.execution_id = execution_id
        self._occurrences: dict[str, int] = {}
        self._explicit: set[str] = set()

    def explicit(self, key: str) -> str:
        if key in self._explicit:
            raise DuplicateStepKeyError(
                f"execution {self.execution_id}: step key {key!r} is used twice; step keys must be unique"
            )
        self._explicit.add(key)
        return key

    def derived(self, name: str | None, base: str) -> str:
        """``name`` if given (explicit), else ``base:<occurrence>``."""
        if name is not None:
            return self.explicit(name)
        count = self._occurrences.get(base, 0) + 1
        self._occurrences[base] = count
        return f"{base}:{count}"


class StepRunner:
    """The step protocol of one execution, over its runtime port."""

    __slots__ = ("ctx", "run", "execution_id", "keys")

    def __init__(self, ctx, run: RunPort):
        self.ctx = ctx  # the WorkflowContext: what an @function's FunctionContext reports
        self.run = run
        self.execution_id: str = run.execution_id
        self.keys = StepKeys(run.execution_id)

    # -- steps with a body ---------------------------------------------------------------

    def call(self, key: str, fn: Callable, args: tuple, kwargs: dict, seq: int | None = None):
        """The step call for ``fn``: an ``@function`` brings its context and retry policy."""
        if isinstance(fn, Function):
            return self.body(key, fn.fn, args, kwargs, fn.retry, pass_context=True, seq=seq)
        return self.body(key, fn, args, kwargs, RetryPolicy(), pass_context=False, seq=seq)

    async def body(
        self,
        key: str,
        fn: Callable,
        args: tuple,
        kwargs: dict,
        policy: RetryPolicy,
        pass_context: bool,
        seq: int | None = None,
    ) -> Any:
        run = self.run
        run.check_cancelled()
        seq = run.next_seq() if seq is None else seq  # 1.
        match decide(run.journal, seq, key):  # 2.
            case Replay(entry):  # 3.
                return self._outcome(entry)
            case Park(entry):
                raise NondeterminismError(self.execution_id, seq, expected=f"{entry['key']} (a wait)", found=key)
            case Run(attempt, not_before_ms):
                if not_before_ms is not None:  # a retry was due
                    await sleep_until(not_before_ms)
        while True:  # 4.
            started_at_ms = now_ms()  # before the check: a pause after it was in flight when it began
            if run.ownership_in_doubt():  # the process was paused: is the run still ours?
                await run.confirm_ownership()
            info = StepInfo(self.execution_id, key, attempt, started_at_ms)
            failure: Exception | None = None
            run.busy()
            try:
                fctx = FunctionContext(self.ctx, info) if pass_context else None
                value = await call_body(fn, args, kwargs, fctx, info)
                result = to_json(value, f"result of step {key!r} of execution {self.execution_id}")
            except Exception as exc:
                failure = exc
            finally:
                run.idle()
            if failure is None:  # 5.
                try:
                    checkpoint = run.checkpoint()
                except StateTooLargeError as exc:
                    failure = exc
                else:
                    entry = await run.record_step(
                        records.step_completed,
                        seq,
                        key,
                        attempt=attempt,
                        result=result,
                        state=checkpoint,
                        started_at=started_at_ms,
                    )
                    break
            error = to_record(failure, step=key)
            gives_up = isinstance(failure, (SerializationError, TerminalError))
            if gives_up or attempt > policy.max_retries:
                if not gives_up:
                    error["message"] = f"{error['message']} (gave up after {attempt} attempts)"
                entry = await run.record_step(
                    records.step_failed,
                    seq,
                    key,
                    attempt=attempt,
                    error=error,
                    state=run.checkpoint(or_none=True),
                    started_at=started_at_ms,
                )
                break
            asked = isinstance(failure, RetryableError) and failure.retry_after is not None
            delay_s = failure.retry_after if asked else policy.delay(attempt)
            logger.warning(
                "execution %s step %r attempt %d failed (%s); retrying in %.2fs",
                self.execution_id,
                key,
                attempt,
                error["message"],
                delay_s,
            )
            entry = await run.record_step(
                records.step_attempt_failed,
                seq,
                key,
                attempt=attempt,
                error=error,
                retry_at=ms_after(delay_s),
                started_at=started_at_ms,
            )
            if entry["status"] != EntryStatus.RETRYING:
                break
            attempt = entry["attempt"] + 1
            await sleep_until(entry["retry_at"])
        run.journal.check_key(seq, key, entry)
        return self._outcome(entry)

    def _outcome(self, entry: dict) -> Any:
        if entry["status"] == _COMPLETED:
            return from_json(entry["result"])
        raise step_error_from_record(entry["error"], self.execution_id)

    async def patched(self, change_id: str) -> bool:
        """Whether this run takes the new path of the change ``change_id``
        (``WorkflowContext.patched``).

        1. Look at the next position without taking it.
        2. The journal holds another step there: the run recorded it before the change
           was deployed. False, and the position stays for that step: the old path replays.
        3. Else (the marker is recorded there, or nothing is yet): take the position and
           record the marker ``patch:<change_id>`` as a step. True.
        """
        key = self.keys.explicit(f"patch:{change_id}")
        seq = self.run.peek_seq()  # 1.
        entry = self.run.journal.at(seq)
        if entry is not None and entry["key"] != key:  # 2.
            return False
        return await self.body(key, _true, (), {}, RetryPolicy(), pass_context=False, seq=self.run.next_seq())  # 3.

    def reserve_batch(self, fn: Callable, items: list, name: str | None) -> list[Callable]:
        """Keys and positions for every item, taken now in item order (so replay matches)."""
        base = self.keys.derived(name, f"batch:{step_name(fn)}")
        calls = []
        for i, item in enumerate(items):
            args, kwargs = (
                ((), item) if isinstance(item, dict) else (item, {}) if isinstance(item, tuple) else ((item,), {})
            )
            seq = self.run.next_seq()
            calls.append(
                lambda key=f"{base}[{i}]", args=args, kwargs=kwargs, seq=seq: self.call(key, fn, args, kwargs, seq=seq)
            )
        return calls

    # -- steps that are one record: waits, children, session writes ------------------------

    async def entry(
        self, key: str, build: RecordBuilder, make_fields: Callable[[], dict], seq: int | None = None
    ) -> dict:
        """A step that is one record, until it has ended.

        1. position and key, 2. the decision, 3. record it (``make_fields`` runs only then,
        so its checks judge the present, never a replay), 4. park while it waits.
        """
        run = self.run
        run.check_cancelled()
        seq = run.next_seq() if seq is None else seq
        match decide(run.journal, seq, key):
            case Replay(entry):
                pass
            case Park(entry):
                entry = await run.park(seq, _due_at_ms(entry))
            case Run():
                entry = await run.record_step(build, seq, key, **make_fields())
                if entry["status"] == _WAITING:
                    entry = await run.park(seq, _due_at_ms(entry))
        run.journal.check_key(seq, key, entry)
        return entry

    async def wait(self, key: str, build: RecordBuilder, fields: dict) -> Any:
        """A wait: its recorded result, or the error it ended with."""
        entry = await self.entry(key, build, lambda: fields)
        if entry["status"] == _COMPLETED:
            if entry.get("kind") == _TIMER:  # its TimerFired may come a little early: sleep the rest
                await sleep_until(entry["due_at"])
            return from_json(entry["result"])
        if entry["error"]["code"] == "TIMEOUT":
            raise WaitTimeoutError(entry["error"]["message"], execution_id=self.execution_id, wait=key)
        raise step_error_from_record(entry["error"], self.execution_id)

    async def sleep(self, key: str, due_at_ms: int) -> None:
        await self.wait(key, records.timer_scheduled, {"due_at": due_at_ms})

    async def suspend(self, key: str, data: Any, timeout: float | timedelta | None) -> Resumed:
        timeout_s = in_seconds(timeout)
        payload = to_json(data, f"data of suspension {key!r} of execution {self.execution_id}")
        timeout_at_ms = None if timeout_s is None else ms_after(timeout_s)
        return Resumed(await self.wait(key, records.suspended, {"data": payload, "timeout_at": timeout_at_ms}))

    def failed_step(self, key: str, error: dict) -> StepExecutionError:
        """The error a failed one-record step (a child) raises in the workflow."""
        return StepExecutionError(
            f"step {key!r} failed: {error['type']}: {error['message']}",
            step=key,
            error_type=error["type"],
            cause_code=error["code"],
            execution_id=self.execution_id,
        )


def _true() -> bool:
    return True


def step_name(fn: Callable) -> str:
    """The name a step body's derived keys start with."""
    return fn.name if isinstance(fn, Function) else getattr(fn, "__name__", "step")


def _due_at_ms(entry: dict) -> int | None:
    return entry.get("due_at") or entry.get("timeout_at")
