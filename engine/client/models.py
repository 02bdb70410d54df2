"""What a client hands back: an execution's status, its history, and a handle to wait on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel

from .. import names
from ..clock import to_datetime
from ..errors import WorkflowFailedError
from ..fold.rows import ENDED, Status
from ..wire.serde import from_json
from ..workflow.cron import CronSpec

_FAILED_OR_CANCELLED = frozenset({Status.FAILED, Status.CANCELLED})


class Execution(BaseModel):
    """Status of one execution, as folded from the journal."""

    execution_id: str
    workflow: str
    status: str
    result: Any = None
    error: dict | None = None
    user_id: str | None = None
    session_id: str | None = None
    parent_execution_id: str | None = None
    root_execution_id: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    # open waits: kind (timer, suspend, event, child, session), key, due_at, data (a question...);
    # an event wait also its topic and event_key, a wait with a timeout its timeout_at, a child its id
    waiting_for: list[dict] = []
    state: dict | None = None  # the workflow's state as of its last recorded step
    # on a queue: {name, key, priority, slot: held|waiting|released|requeued, position: 1.. while queued}
    queue: dict | None = None
    routing_key: str = ""  # where its records go (its id, its session, its schedule or its queue key)
    rerun_of: dict | None = None  # a rerun: {execution_id, from_step, from_seq} of the run it reruns

    @classmethod
    def from_row(cls, row: dict, queue_position: int | None = None) -> Execution:
        waits = []
        for _, wait in sorted(row.get("waits", {}).items(), key=lambda kv: int(kv[0])):
            shown = {
                "kind": wait["kind"],
                "key": wait["key"],
                "due_at": to_datetime(wait.get("due_at")),
                "data": from_json(wait.get("data")),
            }
            if wait["kind"] == "event":  # where to publish to end it
                shown.update(topic=wait.get("topic"), event_key=wait.get("event_key"))
            if wait.get("timeout_at") is not None:
                shown["timeout_at"] = to_datetime(wait["timeout_at"])
            if wait.get("child") is not None:
                shown["child"] = wait["child"]
            waits.append(shown)
        return cls(
            execution_id=row["id"],
            workflow=row["workflow"],
            status=row["status"],
            result=from_json(row["result"]),
            error=row["error"],
            user_id=row["user_id"],
            session_id=row["session_id"],
            parent_execution_id=row["parent_id"],
            root_execution_id=row["root_id"],
            created_at=to_datetime(row["created_at"]),
            started_at=to_datetime(row["started_at"]),
            completed_at=to_datetime(row["completed_at"]),
            waiting_for=waits,
            state=from_json(row.get("state")),
            queue=None if not row.get("queue") else {**row["queue"], "position": queue_position},
            routing_key=names.row_routing_key(row),
            rerun_of=row.get("rerun_of"),
        )

    @property
    def done(self) -> bool:
        return self.status in ENDED


class QueueKey(BaseModel):
    """One (queue, concurrency key): its limit, the runs holding a slot, the runs waiting."""

    queue: str
    key: str | None
    limit: int
    running: list[str]
    waiting: list[str]  # in the order they will start

    @classmethod
    def from_slots(cls, slots: dict, limit: int) -> QueueKey:
        waiting = [run_id for _, _, run_id in slots["waiting"]]
        return cls(queue=slots["queue"], key=slots["key"], limit=limit, running=list(slots["running"]), waiting=waiting)


class Schedule(BaseModel):
    """A cron schedule, as folded from the journal (``docs/flow-control.md``)."""

    schedule_id: str
    workflow: str
    key: str
    cron: str
    timezone: str
    overlap: str
    catch_up_s: int
    source: str  # "decorator" (``@workflow(schedule=...)``) or "api" (``schedules.create``)
    paused: bool
    next_tick: datetime | None = None
    last_tick: datetime | None = None  # the latest tick that came due, run or not
    last_run_tick: datetime | None = None  # the latest tick that started a run
    open_runs: list[str] = []  # its runs still active
    buffered_tick: datetime | None = None  # buffer_one: starts when the open runs end
    runs: int = 0
    skipped: int = 0  # ticks skipped because a run was open (overlap "skip")
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def cron_spec(self) -> CronSpec:
        return CronSpec(self.cron, self.timezone)

    @classmethod
    def from_row(cls, row: dict) -> Schedule:
        return cls(
            schedule_id=row["id"],
            workflow=row["workflow"],
            key=row["key"],
            cron=row["cron"],
            timezone=row["timezone"],
            overlap=row["overlap"],
            catch_up_s=row["catch_up_s"],
            source=row["source"],
            paused=row["paused"],
            next_tick=to_datetime(row["next_tick"]),
            last_tick=to_datetime(row["last_tick"]),
            last_run_tick=to_datetime(row["last_run_tick"]),
            open_runs=list(row["open"]),
            buffered_tick=to_datetime(row["buffered"]),
            runs=row["runs"],
            skipped=row["skipped"],
            created_at=to_datetime(row["created_at"]),
            updated_at=to_datetime(row.get("updated_at")),
        )


# Record fields that carry JSON text: decoded for people and in history files.
PAYLOAD_FIELDS = frozenset({"input", "result", "data", "state", "initial_state", "value"})


class HistoryRecord(BaseModel):
    """One journal record of an execution, decoded, with what the fold made of it."""

    offset: int
    type: str
    at: datetime
    fields: dict  # as on the log: payloads (input, result, state...) are JSON text
    outcome: str  # "applied", or why the fold ignored it (fenced, duplicate, ...)
    partition: int = 0
    schema_fingerprint: str | None = None  # the writer schema's fingerprint (CRC-64-AVRO, hex), from its frame

    def payloads_decoded(self) -> dict:
        """``fields`` with the JSON payloads decoded (for people, not for replay)."""
        return {k: from_json(v) if k in PAYLOAD_FIELDS and isinstance(v, str) else v for k, v in self.fields.items()}


class DeadLetter(BaseModel):
    """An event, or a journal record, that could not be used, as a worker put it on
    ``<namespace>.dead-letter``."""

    partition: int  # where it is on the dead-letter topic
    offset: int
    reason: str
    topic: str  # where the event was
    event_partition: int
    event_offset: int
    key: str | None = None
    value: str  # the event's bytes: UTF-8 text, or base64 (value_encoding)
    value_encoding: str = "utf-8"
    value_truncated: bool = False  # only the start of a value too big for a letter was kept
    timestamp: datetime | None = None


class ExecutionHandle:
    def __init__(self, client, execution_id: str, routing_key: str, fresh: bool):
        self.client = client
        self.execution_id = execution_id
        self.routing_key = routing_key
        self._fresh = fresh
        self._ended: dict | None = None
        self.convert: Callable[[Any, str], Any] | None = None  # e.g. an agent's result as an AgentResult

    def __repr__(self) -> str:
        return f"<ExecutionHandle {self.execution_id}>"

    async def _ended_row(self, timeout: float | None) -> dict:
        row = self._ended
        if row is None:
            row = await self.client.live.wait_finished(self.execution_id, self.routing_key, self._fresh, timeout)
            self._ended = row  # the handle keeps its answer; the client does not
        return row

    async def wait(self, timeout: float | None = None) -> Execution:
        """Wait for the execution to end, however it ends; the execution as it ended
        (its status, result or error), from what the wait saw: no second read of the log.
        ``TimeoutError`` after ``timeout``."""
        return Execution.from_row(await self._ended_row(timeout))

    async def result(self, timeout: float | None = None) -> Any:
        """Wait for the execution to end; its result, or ``WorkflowFailedError``."""
        row = await self._ended_row(timeout)
        if row["status"] in _FAILED_OR_CANCELLED:
            raise WorkflowFailedError(self.execution_id, row["error"])
        value = from_json(row["result"])
        return value if self.convert is None else self.convert(value, self.execution_id)

    async def status(self) -> Execution:
        return await self.client.get_execution(
            self.execution_id, session_id=self.routing_key if self.routing_key != self.execution_id else None
        )


class PartitionInfo(BaseModel):
    """One journal partition: who claimed it last, and how far its owner has folded it."""

    partition: int
    owner: str | None = None  # the worker whose claim is current (None: never claimed)
    claimed_by: str | None = None  # that claim's owner: the worker id and its processor's incarnation
    owner_connected: bool | None = None  # whether that worker is in the worker group now (None: unknown)
    epoch: int = 0
    claimed_at: datetime | None = None
    end: int  # the offset the next record will get
    folded: int | None = None  # the owner's last reported next offset to fold (None: none reported)

    @property
    def lag(self) -> int | None:
        """Records on the partition its owner has not folded yet (reported every few seconds)."""
        return None if self.folded is None else max(0, self.end - self.folded)


class RegisteredWorkflow(BaseModel):
    name: str
    triggers: list[str] = []  # domain topics whose events start it
    queue: dict | None = None  # {name, limit}: the queue its runs go on


class WorkerInfo(BaseModel):
    """A worker that announced itself to the namespace, and whether it is connected now."""

    worker: str
    connected: bool | None  # in the worker group now (None: the log does not say)
    started_at: datetime | None = None
    workflows: list[RegisteredWorkflow] = []
