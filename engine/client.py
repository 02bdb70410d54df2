"""Client: appends commands to the journal and reads results back from it.

A client never talks to a worker. ``invoke`` appends an ``InvocationRequested`` record
(epoch 0, never fenced; idempotent by execution id). Results are read from the journal
itself: the client folds the records of the executions it watches, together with the
partition's claims, with the very same ``fold.apply`` the workers use, so a record from
a fenced worker is ignored here exactly as it is there.

Reading cost: the first watch on a partition reads that partition from offset 0 (keys
are compared before anything is decoded, so other executions' records are cheap to
skip). Waiting on an id the client did not create makes that partition's view fold
every key from then on (one scan, then memory for every execution of the partition).
``get_execution`` and ``history`` of an execution this client does not watch scan its
partition once.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ValidationError

from . import commands, fold
from .codec import Codec, default_codec
from .errors import (ExecutionNotFoundError, InputValidationError, LogloomError, SchemaError,
                     WorkflowFailedError)
from .events import encode_event, split_topic
from .fold_sessions import session_state_key
from .log.base import Entry, Log
from .registry import Workflow
from .serde import from_json, to_json
from .state import dump_state
from .store import MemoryState
from .topics import PARTITION_KEY

log = logging.getLogger(__name__)


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
    waiting_for: list[dict] = []  # open waits: kind (timer, suspend), key, due_at, data (question...)
    state: dict | None = None  # the workflow's state as of its last recorded step

    @classmethod
    def from_row(cls, row: dict) -> "Execution":
        ts = lambda ms: None if ms is None else datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
        waits = []
        for _, wait in sorted(row.get("waits", {}).items(), key=lambda kv: int(kv[0])):
            waits.append({"kind": wait["kind"], "key": wait["key"], "due_at": ts(wait.get("due_at")),
                          "data": from_json(wait.get("data"))})
        return cls(execution_id=row["id"], workflow=row["workflow"], status=row["status"],
                   result=from_json(row["result"]), error=row["error"], user_id=row["user_id"],
                   session_id=row["session_id"], parent_execution_id=row["parent_id"],
                   root_execution_id=row["root_id"], created_at=ts(row["created_at"]),
                   started_at=ts(row["started_at"]), completed_at=ts(row["completed_at"]),
                   waiting_for=waits, state=from_json(row.get("state")))

    @property
    def done(self) -> bool:
        return self.status in fold.ENDED


class HistoryRecord(BaseModel):
    """One journal record of an execution, decoded, with what the fold made of it."""

    offset: int
    type: str
    at: datetime
    fields: dict
    outcome: str  # "applied", or why the fold ignored it (fenced, duplicate, ...)


class ExecutionHandle:
    def __init__(self, client: "Client", execution_id: str, routing_key: str, fresh: bool):
        self.client = client
        self.execution_id = execution_id
        self.routing_key = routing_key
        self._fresh = fresh

    def __repr__(self) -> str:
        return f"<ExecutionHandle {self.execution_id}>"

    async def result(self, timeout: float | None = None) -> Any:
        """Wait for the execution to end; its result, or ``WorkflowFailedError``."""
        row = await self.client._wait_finished(self.execution_id, self.routing_key, self._fresh, timeout)
        if row["status"] in (fold.FAILED, fold.CANCELLED):
            raise WorkflowFailedError(self.execution_id, row["error"])
        return from_json(row["result"])

    async def status(self) -> Execution:
        return await self.client.get_execution(self.execution_id, session_id=self.routing_key
                                               if self.routing_key != self.execution_id else None)


class _View:
    """The client's fold of one partition: of the watched routing keys and the claims, or
    (``keys is None``) of every key, once the client watched an id it did not create."""

    def __init__(self):
        self.state = MemoryState()
        self.position = 0
        self.keys: set[bytes] | None = set()
        self.waiters: dict[str, list[asyncio.Future]] = {}

    def watches(self, key: bytes) -> bool:
        return self.keys is None or key in self.keys or key == PARTITION_KEY


class Client:
    def __init__(self, log_: Log, codec: Codec | None = None):
        self.log = log_
        self.codec = codec or default_codec()
        self._views: dict[int, _View] = {}
        self._reader = None
        self._pump_task: asyncio.Task | None = None
        self._lock = asyncio.Lock()

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        if self._pump_task is not None:
            self._pump_task.cancel()
            try:
                await self._pump_task
            except asyncio.CancelledError:
                pass
            self._pump_task = None
        if self._reader is not None:
            await self._reader.close()
            self._reader = None

    # -- commands ------------------------------------------------------------------------

    async def invoke(self, workflow: Workflow | str, payload: Any = None, *, execution_id: str | None = None,
                     user_id: str | None = None, session_id: str | None = None,
                     run_timeout_seconds: float | None = None, initial_state: Any = None) -> ExecutionHandle:
        """Append an invocation. A payload the workflow rejects raises and starts nothing.

        Invoking twice with the same ``execution_id`` starts one execution. With
        ``run_timeout_seconds``, an execution still running then is cancelled.
        """
        record = self._invocation(workflow, payload, execution_id, user_id, session_id, run_timeout_seconds,
                                  initial_state)
        return await self._append_invocation(record, fresh=execution_id is None)

    async def batch_invoke(self, workflows: list, *, user_id: str | None = None,
                           session_id: str | None = None) -> list[ExecutionHandle]:
        """Start many executions (``BatchWorkflowInput``: workflow, payload, initial state); handles in order.

        Every payload and initial state is checked first: if one is invalid, nothing is started.
        """
        records = [self._invocation(w.id, w.payload, None, user_id, session_id, w.run_timeout_seconds,
                                    w.initial_state) for w in workflows]
        return list(await asyncio.gather(*(self._append_invocation(r, fresh=True) for r in records)))

    def _invocation(self, workflow: Workflow | str, payload: Any, execution_id: str | None, user_id: str | None,
                    session_id: str | None, run_timeout_seconds: float | None, initial_state: Any) -> dict:
        """The ``InvocationRequested`` fields, checked: bad input raises before anything is written."""
        execution_id = execution_id or uuid.uuid4().hex
        if isinstance(workflow, Workflow):
            workflow.binder.bind(payload)  # raises InputValidationError
            name = workflow.name
            if initial_state is not None:
                try:
                    initial_state = workflow.state_schema.model_validate(initial_state)
                except ValidationError as exc:
                    raise InputValidationError(f"invalid initial state for {name}: {exc}") from exc
        else:
            name = workflow
        return commands.invocation(
            execution_id, name, to_json(payload, f"input of execution {execution_id}"), user_id=user_id,
            session_id=session_id, initial_state=None if initial_state is None else dump_state(initial_state,
                                                                                              execution_id),
            run_timeout_ms=None if run_timeout_seconds is None else int(run_timeout_seconds * 1000))

    async def _append_invocation(self, record: dict, fresh: bool) -> ExecutionHandle:
        execution_id = record["execution_id"]
        routing_key = record["session_id"] or execution_id
        if fresh:  # nothing of it can precede this append: watch before writing
            await self._watch(routing_key, fresh=True)
        partition = self.log.partition_for(routing_key)
        await self.log.append(partition, routing_key.encode(), self.codec.encode("InvocationRequested", record))
        return ExecutionHandle(self, execution_id, routing_key, fresh)

    async def get_session_state(self, session_id: str) -> dict:
        """The session's state (``ctx.session.state``), folded from the log: key -> value."""
        state, _ = await self._scan(session_id, stop=None)
        document = state.get(session_state_key(session_id)) or {}
        return {key: from_json(value) for key, value in document.items()}

    async def publish_event(self, topic: str, data: Any, key: str | None = None,
                            schema: dict | None = None) -> tuple[int, int]:
        """Publish an event on a domain topic (``name`` or ``name/KEY``); returns (partition, offset).

        JSON by default; Avro (single-object encoding) with ``schema``. Any Kafka producer
        can publish the same way: the engine reads the topic directly.
        """
        name, topic_key = split_topic(topic)
        if topic_key is not None and key is not None and key != topic_key:
            raise LogloomError(f"two keys for one event: {topic!r} and key={key!r}")
        key = topic_key if topic_key is not None else key
        return await self.log.publish(name, None if key is None else key.encode(), encode_event(data, schema))

    async def cancel(self, execution_id: str, reason: str = "cancelled by a client", *,
                     session_id: str | None = None) -> None:
        """Cancel the execution at its next step or wait; its status becomes ``cancelled``."""
        routing_key = session_id or execution_id
        record = {"execution_id": execution_id, "epoch": 0, "at": int(time.time() * 1000), "reason": reason}
        await self.log.append(self.log.partition_for(routing_key), routing_key.encode(),
                              self.codec.encode("CancelRequested", record))

    async def resume(self, execution_id: str, name: str, data: Any = None, *,
                     session_id: str | None = None) -> None:
        """Resume the execution's suspension ``name`` with ``data``.

        A resume that arrives before the workflow reaches that suspension is kept and
        delivered when it does.
        """
        routing_key = session_id or execution_id
        record = {"execution_id": execution_id, "epoch": 0, "at": int(time.time() * 1000), "name": name,
                  "data": to_json(data, f"resume data for {execution_id}/{name}")}
        await self.log.append(self.log.partition_for(routing_key), routing_key.encode(),
                              self.codec.encode("ResumeRequested", record))

    # -- queries ---------------------------------------------------------------------

    async def list_executions(self, status: str | None = None) -> list[Execution]:
        """Every execution in the namespace (optionally of one status), folded from the log.

        Reads every partition from offset 0: meant for the CLI and for tests.
        """
        out = []
        for partition in range(self.log.num_partitions):
            state, _ = await self._scan_partition(partition, key=None, stop=None)
            for _, row in state.scan(b"e/"):
                if status is None or row["status"] == status:
                    out.append(Execution.from_row(row))
        return sorted(out, key=lambda e: e.created_at or datetime.min.replace(tzinfo=timezone.utc))

    async def get_execution(self, execution_id: str, *, session_id: str | None = None) -> Execution:
        routing_key = session_id or execution_id
        view = self._views.get(self.log.partition_for(routing_key))
        row = None
        if view is not None and view.watches(routing_key.encode()):
            row = view.state.get(fold.execution_key(execution_id))
        if row is None:
            state, _ = await self._scan(routing_key, stop=None)
            row = state.get(fold.execution_key(execution_id))
        if row is None and session_id is None:  # perhaps a run of a session: look everywhere
            state, _ = await self._find_elsewhere(execution_id)
            row = state.get(fold.execution_key(execution_id))
        if row is None:
            raise ExecutionNotFoundError(f"no execution {execution_id!r} in namespace {self.log.namespace!r}")
        return Execution.from_row(row)

    async def history(self, execution_id: str, *, session_id: str | None = None,
                      include_claims: bool = True) -> list[HistoryRecord]:
        """Every record of the execution in log order, decoded, with the fold's outcome.

        Without ``session_id``, a run of a session is found too, by reading every partition.
        """
        state, records = await self._scan(session_id or execution_id, stop=None, collect=True)
        if session_id is None and state.get(fold.execution_key(execution_id)) is None:
            _, records = await self._find_elsewhere(execution_id, collect=True)
        out = []
        for entry, record, events in records:
            if record["type"] == "PartitionClaimed":
                if not include_claims:
                    continue
            elif record["execution_id"] != execution_id:
                continue
            outcome = "applied"
            for event in events:
                if event.kind in ("fenced", "duplicate", "ignored", "claim_rejected", "buffered"):
                    outcome = f"{event.kind}: {event.data}" if event.kind != "claim_rejected" else "claim rejected"
            fields = {k: v for k, v in record.items() if k not in ("type", "at")}
            out.append(HistoryRecord(offset=entry.offset, type=record["type"],
                                     at=datetime.fromtimestamp(record["at"] / 1000, tz=timezone.utc),
                                     fields=fields, outcome=outcome))
        if not any(r.type != "PartitionClaimed" for r in out):
            raise ExecutionNotFoundError(f"no execution {execution_id!r} in namespace {self.log.namespace!r}")
        return out

    # -- reading the journal ---------------------------------------------------------------

    async def _find_elsewhere(self, execution_id: str, collect: bool = False):
        """Fold the other partitions, one by one, until one holds the execution (a run of a session)."""
        home = self.log.partition_for(execution_id)
        for partition in range(self.log.num_partitions):
            if partition != home:
                state, records = await self._scan_partition(partition, key=None, stop=None, collect=collect)
                if state.get(fold.execution_key(execution_id)) is not None:
                    return state, records
        return MemoryState(), []

    async def _scan(self, routing_key: str, stop: int | None, collect: bool = False):
        """Fold one routing key's records (and the claims) of its partition from offset 0."""
        return await self._scan_partition(self.log.partition_for(routing_key), routing_key.encode(), stop, collect)

    async def _scan_partition(self, partition: int, key: bytes | None, stop: int | None, collect: bool = False):
        """Fold a partition from offset 0 up to ``stop``: all of it, or one key and the claims."""
        if stop is None:
            stop = await self.log.end_offset(partition)
        state = MemoryState()
        records: list[tuple[Entry, dict, list]] = []
        reader = self.log.reader()
        try:
            reader.assign(partition, 0)
            position = 0
            while position < stop:
                for entry in await reader.poll(timeout=1.0):
                    if entry.offset >= stop:
                        break
                    position = entry.offset + 1
                    if key is not None and entry.key != key and entry.key != PARTITION_KEY:
                        continue
                    try:
                        record = self.codec.decode(entry.value)
                    except SchemaError:
                        continue
                    events = fold.apply(state, record)
                    if collect:
                        records.append((entry, record, events))
        finally:
            await reader.close()
        return state, records

    async def _watch(self, routing_key: str, fresh: bool) -> _View:
        partition = self.log.partition_for(routing_key)
        key = routing_key.encode()
        async with self._lock:  # the pump folds nothing while a watch is being added
            view = self._views.get(partition)
            if view is None:
                view = self._views[partition] = _View()
                if self._reader is None:
                    self._reader = self.log.reader()
                self._reader.assign(partition, 0)
            if not view.watches(key):
                if not fresh and view.position > 0:
                    # Records of ids this client did not create were skipped. Fold the whole
                    # partition up to here once, and every key from now on: one scan, not
                    # one per id (the view then holds every execution of the partition).
                    view.state, _ = await self._scan_partition(partition, key=None, stop=view.position)
                    view.keys = None
                else:
                    view.keys.add(key)
            if self._pump_task is None:
                self._pump_task = asyncio.create_task(self._pump(), name="client-pump")
                self._pump_task.add_done_callback(self._pump_ended)
        return view

    def _pump_ended(self, task: asyncio.Task) -> None:
        """If reading the journal fails, fail every waiter now instead of at its timeout."""
        if task.cancelled() or task.exception() is None:
            return
        log.error("client: reading the journal failed: %s", task.exception())
        self._pump_task = None
        for view in self._views.values():
            for waiters in view.waiters.values():
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_exception(task.exception())
            view.waiters.clear()

    async def _pump(self) -> None:
        while True:
            entries = await self._reader.poll(timeout=0.2)
            if not entries:
                continue
            async with self._lock:
                for entry in entries:
                    view = self._views[entry.partition]
                    if entry.offset < view.position:
                        continue
                    view.position = entry.offset + 1
                    if not view.watches(entry.key):
                        continue
                    try:
                        record = self.codec.decode(entry.value)
                    except SchemaError:
                        continue
                    for event in fold.apply(view.state, record):
                        if event.kind == "finished":
                            for waiter in view.waiters.pop(event.execution_id, []):
                                if not waiter.done():
                                    waiter.set_result(event.data)

    async def _wait_finished(self, execution_id: str, routing_key: str, fresh: bool,
                             timeout: float | None) -> dict:
        view = await self._watch(routing_key, fresh)
        row = view.state.get(fold.execution_key(execution_id))
        if row is not None and row["status"] in fold.ENDED:
            return row
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        view.waiters.setdefault(execution_id, []).append(waiter)
        # A timer instead of asyncio.wait_for: the pump's set_result wakes this task
        # directly, not through wait_for's extra callback hops on a busy loop.
        timer = None if timeout is None else loop.call_later(timeout, _time_out, waiter, execution_id, timeout)
        try:
            return await waiter
        finally:
            if timer is not None:
                timer.cancel()


def _time_out(waiter: asyncio.Future, execution_id: str, timeout: float) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError(f"execution {execution_id} did not finish within {timeout} s"))
