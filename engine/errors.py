"""Errors users see, and engine control flow.

Users see one root type, ``LogloomError``, with a stable ``code``. Two kinds matter when
raising from a step: ``TerminalError`` (never retried) and ``RetryableError`` (retried,
maybe after ``retry_after`` seconds). Any other exception from a step is retryable.

Engine control flow (fencing, replay divergence) derives from ``BaseException`` so a
user's ``except Exception`` cannot swallow it.

Errors are data: ``to_record`` / ``from_record`` convert to the Avro ``Error`` record, so
an error recorded in the journal re-raises identically on replay.
"""

from __future__ import annotations

import traceback


class LogloomError(Exception):
    """Root of every error Logloom raises to users. ``code`` is stable."""

    code = "ERROR"

    def __init__(self, message: str = "", *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class TerminalError(LogloomError):
    """Raise from a step to fail it without retrying."""

    code = "TERMINAL"


class RetryableError(LogloomError):
    """Raise from a step to ask for a retry, optionally after ``retry_after`` seconds."""

    code = "RETRYABLE"

    def __init__(self, message: str = "", *, retry_after: float | None = None, code: str | None = None):
        super().__init__(message, code=code)
        self.retry_after = retry_after


class StepExecutionError(TerminalError):
    """A step failed for good: a terminal error, or its retries ran out.

    ``step`` is the step key; ``error_type`` and ``cause_code`` describe what the step
    raised (for example ``ValueError`` and ``ERROR``, or ``TerminalError`` and ``TERMINAL``).
    """

    code = "STEP_FAILED"

    def __init__(
        self, message: str, *, step: str, error_type: str, cause_code: str = "ERROR", execution_id: str | None = None
    ):
        super().__init__(message)
        self.step = step
        self.error_type = error_type
        self.cause_code = cause_code
        self.execution_id = execution_id


class WaitTimeoutError(LogloomError):
    """A wait (suspension, event) reached its timeout. Catch it to take another path."""

    code = "TIMEOUT"

    def __init__(self, message: str, *, execution_id: str, wait: str):
        super().__init__(message)
        self.execution_id = execution_id
        self.wait = wait


class WorkflowFailedError(LogloomError):
    """Raised by ``handle.result()`` when the execution failed."""

    code = "WORKFLOW_FAILED"

    def __init__(self, execution_id: str, error: dict):
        super().__init__(f"execution {execution_id} failed: [{error['code']}] {error['message']}", code=error["code"])
        self.execution_id = execution_id
        self.error = error


class InputValidationError(LogloomError):
    """The payload does not fit the workflow's parameters. Nothing was started."""

    code = "INVALID_INPUT"


class ScheduleError(InputValidationError, ValueError):
    """A cron expression, time zone or schedule policy that cannot be a schedule. Nothing
    was scheduled."""

    code = "INVALID_SCHEDULE"


class SerializationError(LogloomError):
    """A value cannot be serialised to JSON."""

    code = "SERIALIZATION"


class StateTooLargeError(TerminalError):
    """The workflow's state would exceed 1 MB of JSON. Nothing was recorded with it."""

    code = "STATE_TOO_LARGE"

    def __init__(self, message: str, *, execution_id: str | None = None, size: int | None = None):
        super().__init__(message)
        self.execution_id = execution_id
        self.size = size


class UnknownWorkflowError(LogloomError):
    code = "UNKNOWN_WORKFLOW"


class DuplicateStepKeyError(TerminalError):
    """Two steps of one execution used the same explicit key."""

    code = "DUPLICATE_STEP_KEY"


class SchemaError(LogloomError):
    """A record cannot be encoded or decoded with the known schemas."""

    code = "SCHEMA"


class NotFoundError(LogloomError):
    """Something named does not exist: an execution, a log, a journal topic."""

    code = "NOT_FOUND"


class ExecutionNotFoundError(NotFoundError):
    code = "NOT_FOUND"


class ScheduleNotFoundError(NotFoundError):
    code = "NOT_FOUND"


class LogNotFoundError(NotFoundError):
    """No log where one was looked for (a data dir or namespace without a journal). Nothing
    that only reads creates one."""


class StepNotFoundError(NotFoundError):
    """No step of that key in the execution's journal (``Client.rerun``)."""

    code = "STEP_NOT_FOUND"


class ExecutionIdConflictError(LogloomError):
    """An invocation reused an execution id for another workflow or another input."""

    code = "ID_CONFLICT"

    def __init__(self, message: str, *, execution_id: str, workflow: str):
        super().__init__(message)
        self.execution_id = execution_id
        self.workflow = workflow


class LogUnavailableError(LogloomError):
    """The log cannot be reached (a Kafka bootstrap that does not answer in time)."""

    code = "UNAVAILABLE"


class StoreAheadOfLogError(LogloomError):
    """A store has folded offsets the log does not have: it was folded from another log
    (a topic deleted and made again, another cluster at the same address)."""


class LogInUseError(LogloomError):
    """An embedded log is open in another process (one process owns an embedded log)."""

    code = "IN_USE"


class HistoryFileError(LogloomError):
    """A history file that cannot be used: not one, truncated, corrupt, from a newer
    version, or of a workflow the app does not have (``engine.replay.history_file``)."""

    code = "INVALID_HISTORY"


class AppLoadError(LogloomError):
    """The application's module cannot be imported: a missing module, or an error in it."""

    code = "APP_LOAD"


# --- engine control flow: BaseException, so `except Exception` cannot swallow it ----------


class EngineSignal(BaseException):
    """Base for control flow the engine uses inside workflow code."""


class NondeterminismError(EngineSignal):
    """Replay asked for a different step than the journal recorded at this position."""

    code = "NONDETERMINISM"

    def __init__(self, execution_id: str, position: int, expected: str, found: str, detail: str | None = None):
        super().__init__(
            detail
            or f"execution {execution_id}: at step position {position} the journal recorded "
            f"step {expected!r}, but the workflow code now asks for step {found!r}. "
            f"Workflow code must call steps in the same order on every run."
        )
        self.execution_id = execution_id
        self.position = position
        self.expected = expected
        self.found = found


class CancelledByRequest(EngineSignal):
    """The execution was asked to stop (``client.cancel`` or its run timeout)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Draining(EngineSignal):
    """The worker is shutting down: the run stops at this step boundary, and the next owner
    goes on from the journal."""


class Fenced(EngineSignal):
    """This processor lost its partition; it must not change anything any more."""


# --- errors as data ---------------------------------------------------------------------


MAX_TRACEBACK_CHARS = 8_000


def to_record(exc: BaseException, *, step: str | None = None) -> dict:
    """The Avro ``Error`` record for an exception, with its traceback (the innermost frames
    when it is long)."""
    code = getattr(exc, "code", None) or "ERROR"
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    step = step or getattr(exc, "step", None)
    trace = "".join(traceback.format_exception(exc)) if exc.__traceback__ is not None else None
    if trace is not None and len(trace) > MAX_TRACEBACK_CHARS:
        trace = "...\n" + trace[-MAX_TRACEBACK_CHARS:]
    return {"code": code, "type": type(exc).__name__, "message": message, "step": step, "traceback": trace}


def step_error_from_record(error: dict, execution_id: str | None = None) -> LogloomError:
    """The exception a recorded step failure raises, identically on every replay."""
    if error["code"] == StateTooLargeError.code:
        return StateTooLargeError(error["message"], execution_id=execution_id)
    step = error.get("step") or ""
    return StepExecutionError(
        f"step {step!r} failed: {error['type']}: {error['message']}",
        step=step,
        error_type=error["type"],
        cause_code=error["code"],
        execution_id=execution_id,
    )
