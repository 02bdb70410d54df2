"""The CLI's exit codes: one table, shown in ``--help`` and docs/cli.md, and the errors each
code stands for."""

from __future__ import annotations

from enum import IntEnum

from ..client import Outcome
from ..errors import (
    AppLoadError,
    ExecutionIdConflictError,
    InputValidationError,
    LogloomError,
    LogUnavailableError,
    NotFoundError,
    WorkflowFailedError,
)


class Exit(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    NOT_FOUND = 3
    TIMEOUT = 4
    ALREADY = 5
    ENDED = 6
    BUFFERED = 7
    CONFLICT = 8
    UNAVAILABLE = 9
    FAULT = 10
    INTERRUPTED = 130
    BROKEN_PIPE = 141


MEANINGS = {
    Exit.OK: "success",
    Exit.FAILED: "the workflow failed, or was cancelled; a replay diverged from its history",
    Exit.USAGE: "bad usage or input: a flag, a JSON payload, an app that does not load",
    Exit.NOT_FOUND: "no such execution, schedule, log or namespace",
    Exit.TIMEOUT: "waited longer than --timeout",
    Exit.ALREADY: "nothing to do: already done (the wait ended, cancellation requested, the schedule paused)",
    Exit.ENDED: "nothing to do: the execution has ended",
    Exit.BUFFERED: "kept: the run has not reached that wait yet; the resume ends it when it does",
    Exit.CONFLICT: "the execution id is taken by another workflow or another input",
    Exit.UNAVAILABLE: "the log cannot be reached (a Kafka bootstrap that does not answer)",
    Exit.FAULT: "a worker stopped on a fault it cannot go on from (its store cannot be written); "
    "its partitions went to the other workers",
    Exit.INTERRUPTED: "interrupted (Ctrl-C); what was recorded stays recorded",
    Exit.BROKEN_PIPE: "the reader of the output went away (| head)",
}

FOR_OUTCOME = {Outcome.APPLIED: Exit.OK, Outcome.ALREADY: Exit.ALREADY, Outcome.ENDED: Exit.ENDED,
               Outcome.BUFFERED: Exit.BUFFERED}  # fmt: skip


def for_error(exc: BaseException) -> Exit:
    """The exit code of an error that ends a command."""
    if isinstance(exc, WorkflowFailedError):
        return Exit.FAILED
    if isinstance(exc, NotFoundError):
        return Exit.NOT_FOUND
    if isinstance(exc, TimeoutError):
        return Exit.TIMEOUT
    if isinstance(exc, ExecutionIdConflictError):
        return Exit.CONFLICT
    if isinstance(exc, LogUnavailableError):
        return Exit.UNAVAILABLE
    if isinstance(exc, AppLoadError | InputValidationError | LogloomError | ValueError):
        return Exit.USAGE
    raise exc


def table(codes: list[Exit] | None = None) -> str:
    """The exit codes (all, or these) as lines for a help text."""
    return "\n".join(f"  {int(code):>3}  {MEANINGS[code]}" for code in sorted(codes or list(Exit)))
