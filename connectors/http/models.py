"""The API's request and answer bodies. The engine's own models (``Execution``,
``Schedule``, ``QueueKey``) are answered as they are; these wrap them."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from engine import Execution, HistoryRecord, Schedule
from engine.client import QueueKey

# A run's statuses (engine.fold.rows.Status, which is not public API; a test keeps them equal).
RunStatus = Literal["pending", "queued", "running", "waiting", "completed", "failed", "cancelled"]
MAX_ID_CHARS = 256
# ids that become routing keys: no control characters (the engine keys its own records with a NUL byte)
ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"


MAX_RUN_TIMEOUT_S = 10 * 365 * 24 * 3600


def _finite(value: Any) -> Any:
    """Python's JSON parser takes NaN and Infinity, which are not JSON: refuse them here,
    before they reach the journal."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError("NaN and Infinity are not JSON numbers")
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return value


JsonValue = Annotated[Any, AfterValidator(_finite)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunRequest(_Request):
    input: JsonValue = Field(None, description="the workflow's payload (its parameters by name, or the one value)")
    execution_id: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_ID_CHARS,
        pattern=ID_PATTERN,
        description="the run's id; the same as Idempotency-Key",
    )
    user_id: str | None = Field(None, max_length=MAX_ID_CHARS)
    session_id: str | None = Field(None, min_length=1, max_length=MAX_ID_CHARS, pattern=ID_PATTERN)
    run_timeout_seconds: float | None = Field(
        None, gt=0, le=MAX_RUN_TIMEOUT_S, description="cancel the run if it runs longer"
    )


class RunAccepted(BaseModel):
    """A run started (or, with an execution id that names it already, found); not waited for."""

    execution_id: str
    workflow: str
    status_url: str  # GET it for the run's status
    result_url: str  # GET it to wait for the run's end


class RunList(BaseModel):
    runs: list[Execution]
    next_page_token: str | None = None  # pass it as ?page_token= for the next page; None: the last page


class HistoryEntry(BaseModel):
    """One journal record of a run, its payloads decoded, with what the fold made of it."""

    partition: int
    offset: int
    type: str
    at: datetime
    outcome: str  # "applied", or why the fold ignored it (fenced, duplicate...)
    fields: dict  # the record's fields; payloads (input, result, data, state) as JSON values
    schema_fingerprint: str | None = None

    @classmethod
    def of(cls, record: HistoryRecord) -> HistoryEntry:
        return cls(
            partition=record.partition,
            offset=record.offset,
            type=record.type,
            at=record.at,
            outcome=record.outcome,
            fields=record.payloads_decoded(),
            schema_fingerprint=record.schema_fingerprint,
        )

    @property
    def event_id(self) -> str:
        """Its SSE id: ``<partition>:<offset>``."""
        return f"{self.partition}:{self.offset}"


class History(BaseModel):
    execution_id: str
    records: list[HistoryEntry]


class StopRequest(_Request):
    reason: str | None = Field(None, max_length=4096, description="recorded with the cancellation")


class ResumeRequest(_Request):
    data: JsonValue = Field(None, description="what the wait returns (Resumed.data)")


class CommandAnswer(BaseModel):
    """What the fold made of a cancel, terminate or resume (``docs/cli.md``: answers from the fold)."""

    execution_id: str
    outcome: Literal["applied", "buffered", "already", "ended"]
    message: str
    execution: Execution  # the run right after the command


class EventRequest(_Request):
    key: str | None = Field(
        None, min_length=1, max_length=MAX_ID_CHARS, pattern=ID_PATTERN, description="the event's key"
    )
    value: JsonValue = Field(..., description="the event (JSON)")


class EventPublished(BaseModel):
    topic: str
    key: str | None
    partition: int
    offset: int


class ScheduleList(BaseModel):
    schedules: list[Schedule]


class QueueList(BaseModel):
    queues: list[QueueKey]


class QueueLimitRequest(_Request):
    limit: int = Field(..., ge=1, le=1_000_000, description="runs of each concurrency key at once")


class QueueLimit(BaseModel):
    queue: str
    limit: int


class Health(BaseModel):
    status: Literal["ok"] = "ok"
