"""What a client reads: an execution's status, its history, listings and session state."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from itertools import islice

import orjson

from .. import names
from ..clock import to_datetime
from ..errors import ExecutionNotFoundError, ScheduleNotFoundError
from ..fold import EffectKind
from ..fold.effects import verdict
from ..fold.keys import (
    QUEUE_PREFIX,
    SCHEDULE_PREFIX,
    execution_key,
    journal_prefix,
    parse_journal_seq,
    queue_key,
    queue_limit_key,
    queue_prefix,
    schedule_key,
    session_state_key,
)
from ..fold.queues import limit_of
from ..wire.framing import fingerprint_hex
from ..wire.records import RecordType
from ..wire.serde import from_json
from .live import LiveResults
from .models import DeadLetter, Execution, HistoryRecord, QueueKey, Schedule
from .run_query import RunQuery, select_rows
from .scans import JournalScans
from .stored import StoredResults
from .worker_stores import WorkerStores


def _belongs(record: dict, execution_id: str, include_claims: bool) -> bool:
    if record["type"] == RecordType.PARTITION_CLAIMED:
        return include_claims
    return record["execution_id"] == execution_id


def _its_schedule_records(folded: list, execution_id: str) -> set[int]:
    """For a scheduled run, every record on its schedule's routing key before the one
    that started it (by ``id()``): the schedule's own and its earlier runs'. Its history
    holds them, so that folding the history again recreates the run as it started, the
    overlap policy included (``engine.replay``)."""
    schedule_id = names.scheduled_run_schedule(execution_id) if "@" in execution_id else None
    if schedule_id is None:
        return set()
    kept = set()
    for _, record, effects in folded:
        kept.add(id(record))
        if any(e.kind == EffectKind.INVOKED and e.execution_id == execution_id for e in effects):
            break
    return kept


def _page(rows, where: Callable[[Execution], bool] | None, limit: int | None) -> list[Execution]:
    executions = (Execution.from_row(row) for row in rows)
    if where is not None:
        executions = filter(where, executions)
    return list(islice(executions, limit)) if limit is not None else list(executions)


def _history_record(entry, record: dict, effects: list) -> HistoryRecord:
    return HistoryRecord(
        offset=entry.offset,
        partition=entry.partition,
        type=record["type"],
        at=to_datetime(record["at"]),
        fields={k: v for k, v in record.items() if k not in ("type", "at")},
        outcome=verdict(effects),
        schema_fingerprint=fingerprint_hex(entry.value),
    )


END_OF_TIME_MS = 2**62  # offset_for_time past every record: a topic partition's end
POLL_S = 1.0


def _dead_letter(entry) -> DeadLetter:
    letter = orjson.loads(entry.value)
    return DeadLetter(
        partition=entry.partition,
        offset=entry.offset,
        reason=letter["reason"],
        topic=letter["topic"],
        event_partition=letter["partition"],
        event_offset=letter["offset"],
        key=letter.get("key"),
        value=letter["value"],
        value_encoding=letter.get("value_encoding", "utf-8"),
        value_truncated=letter.get("value_truncated", False),
        timestamp=to_datetime(letter.get("timestamp")),
    )


class Views:
    def __init__(
        self, scans: JournalScans, live: LiveResults | StoredResults, worker_stores: WorkerStores | None = None
    ):
        self.scans = scans
        self.live = live
        self.log = scans.log
        self.worker_stores = worker_stores

    def _not_found(self, execution_id: str) -> ExecutionNotFoundError:
        return ExecutionNotFoundError(f"no execution {execution_id!r} in namespace {self.log.namespace!r}")

    async def get_execution(self, execution_id: str, session_id: str | None) -> Execution:
        routing_key = names.routing_key(execution_id, session_id)
        if isinstance(self.live, StoredResults):  # a lookup in the client's own stores
            row = await self.live.row(execution_id, routing_key)
            if row is None and session_id is None:
                row = await self.live.row(execution_id, None)
            if row is None:
                raise self._not_found(execution_id)
            return await self._execution(row)
        row = self.live.watched_row(execution_id, routing_key)
        if row is None:
            state, _ = await self.scans.routing_key(routing_key)
            row = state.get(execution_key(execution_id))
        if row is None and session_id is None:  # perhaps a run of a session or a queue: look everywhere
            state, _ = await self.scans.elsewhere(execution_id)
            row = state.get(execution_key(execution_id))
        if row is None:
            raise self._not_found(execution_id)
        return await self._execution(row)

    async def _execution(self, row: dict) -> Execution:
        """The execution of ``row``; a queued run's with its place in its queue (1: next)."""
        if row["status"] != "queued":
            return Execution.from_row(row)
        queued = row["queue"]
        routing_key = names.queue_routing_key(queued["name"], queued["key"])
        slots_key = queue_key(queued["name"], queued["key"])
        if isinstance(self.live, StoredResults):
            slots = await self.live.lookup(routing_key, slots_key)
        else:
            state, _ = await self.scans.routing_key(routing_key)
            slots = state.get(slots_key)
        ids = [run_id for _, _, run_id in (slots or {}).get("waiting", [])]
        return Execution.from_row(row, ids.index(row["id"]) + 1 if row["id"] in ids else None)

    async def journal(self, execution_id: str) -> tuple[dict, dict[int, dict]]:
        """The execution's row and its journal entries by position, folded from the log."""
        found = await self.get_execution(execution_id, None)
        state, _ = await self.scans.routing_key(found.routing_key)
        entries = {parse_journal_seq(key): entry for key, entry in state.scan(journal_prefix(execution_id))}
        return state.get(execution_key(execution_id)), entries

    async def history(self, execution_id: str, session_id: str | None, include_claims: bool) -> list[HistoryRecord]:
        state, folded = await self.scans.routing_key(names.routing_key(execution_id, session_id), collect=True)
        if session_id is None and state.get(execution_key(execution_id)) is None:
            _, folded = await self.scans.elsewhere(execution_id, collect=True)
        schedule_records = _its_schedule_records(folded, execution_id)
        out = [
            _history_record(entry, record, effects)
            for entry, record, effects in folded
            if _belongs(record, execution_id, include_claims) or id(record) in schedule_records
        ]
        if not any(r.type != RecordType.PARTITION_CLAIMED for r in out):
            raise self._not_found(execution_id)
        return out

    async def follow(
        self, execution_id: str, session_id: str | None, include_claims: bool, until_ended: bool
    ) -> AsyncIterator[HistoryRecord]:
        """The execution's records from the first, then each as it is folded; with
        ``until_ended``, stop after the record that ends it."""
        found = await self.get_execution(execution_id, session_id)  # finds a run of a session too
        routing_key = found.routing_key  # its session, schedule or queue key, or its id
        async for entry, record, effects in self.scans.follow(
            self.log.partition_for(routing_key), routing_key.encode()
        ):
            if _belongs(record, execution_id, include_claims):
                yield _history_record(entry, record, effects)
            if until_ended and any(e.kind == EffectKind.FINISHED and e.execution_id == execution_id for e in effects):
                return

    async def list_executions(
        self,
        query: RunQuery,
        where: Callable[[Execution], bool] | None = None,
        after: str | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> list[Execution]:
        """The executions ``query`` admits (and ``where``), oldest first (or newest):
        ``limit`` of them after the execution ``after``, or all. From the run index of the
        client's stores, or of the workers' stores beside it; with neither, from the log
        (``_folded``)."""
        if isinstance(self.live, StoredResults):
            rows = select_rows(await self.live.states(), query, after=after, newest_first=newest_first)
            return _page(rows, where, limit)
        if self.worker_stores is not None and self.worker_stores.available():
            try:
                states = await self.worker_stores.states()
                if states is not None:
                    return _page(select_rows(states, query, after=after, newest_first=newest_first), where, limit)
            finally:
                self.worker_stores.close()
        return await self._folded(query, where, after, limit, newest_first)

    async def _folded(self, query, where, after, limit, newest_first) -> list[Execution]:
        """Fold each partition from offset 0 in turn (one partition's state in memory at
        a time), list what its run index admits, and page the merge."""
        found: list[Execution] = []
        for partition in range(self.log.num_partitions):
            state, _ = await self.scans.partition(partition, key=None, stop=None)
            found += _page(select_rows([state], query), where, None)
        found.sort(key=lambda e: (e.created_at, e.execution_id), reverse=newest_first)
        if after is not None:
            ids = [e.execution_id for e in found]
            if after not in ids:
                raise ValueError(f"page token {after!r} is not an execution of this listing")
            found = found[ids.index(after) + 1 :]
        return found[:limit] if limit is not None else found

    async def schedule(self, schedule_id: str) -> Schedule:
        routing_key = names.schedule_routing_key(schedule_id)
        if isinstance(self.live, StoredResults):
            row = await self.live.lookup(routing_key, schedule_key(schedule_id))
        else:
            state, _ = await self.scans.routing_key(routing_key)
            row = state.get(schedule_key(schedule_id))
        if row is None:
            raise ScheduleNotFoundError(f"no schedule {schedule_id!r} in namespace {self.log.namespace!r}")
        return Schedule.from_row(row)

    async def schedules(self) -> list[Schedule]:
        """Every schedule, by id: from the client's stores, or by folding each partition."""
        if isinstance(self.live, StoredResults):
            rows = await self.live.scan(SCHEDULE_PREFIX)
        else:
            rows = []
            for partition in range(self.log.num_partitions):
                state, _ = await self.scans.partition(partition, key=None, stop=None)
                rows.extend(row for _, row in state.scan(SCHEDULE_PREFIX))
        return sorted((Schedule.from_row(row) for row in rows), key=lambda s: s.schedule_id)

    async def queue_keys(self, queue: str | None) -> list[QueueKey]:
        """Every (queue, key) with its slots, of one queue or all: from the client's stores,
        or by folding each partition."""
        prefix = QUEUE_PREFIX if queue is None else queue_prefix(queue)
        found = []
        if isinstance(self.live, StoredResults):
            for slots in await self.live.scan(prefix):
                limit = await self.live.lookup(names.queue_routing_key(slots["queue"], slots["key"]),
                                               queue_limit_key(slots["queue"]))  # fmt: skip
                found.append(QueueKey.from_slots(slots, limit["limit"] if limit else slots["limit"]))
        else:
            for partition in range(self.log.num_partitions):
                state, _ = await self.scans.partition(partition, key=None, stop=None)
                found.extend(QueueKey.from_slots(slots, limit_of(state, slots)) for _, slots in state.scan(prefix))
        return sorted(found, key=lambda q: (q.queue, q.key or ""))

    async def dead_letters(self) -> list[DeadLetter]:
        """Every event on the namespace's dead-letter topic, in topic order."""
        topic = names.dead_letter_topic(self.log.namespace)
        partitions = await self.log.topic_partitions(topic)
        ends = {p: await self.log.offset_for_time(topic, p, END_OF_TIME_MS) for p in range(partitions)}
        if not any(ends.values()):
            return []
        out: list[DeadLetter] = []
        reader = self.log.topic_reader(topic)
        try:
            for partition, end in ends.items():
                if end:
                    reader.assign(partition, 0)
            while len(out) < sum(ends.values()):
                out += [_dead_letter(e) for e in await reader.poll(POLL_S) if e.offset < ends[e.partition]]
        finally:
            await reader.close()
        return sorted(out, key=lambda d: (d.partition, d.offset))

    async def session_state(self, session_id: str) -> dict:
        state, _ = await self.scans.routing_key(session_id)
        document = state.get(session_state_key(session_id)) or {}
        return {key: from_json(value) for key, value in document.items()}
