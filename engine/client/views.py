"""What a client reads: an execution's status, its history, listings and session state."""

from __future__ import annotations

from datetime import UTC, datetime

from .. import names
from ..clock import to_datetime
from ..errors import ExecutionNotFoundError
from ..fold import NOT_APPLIED, EffectKind
from ..fold.keys import EXECUTION_PREFIX, execution_key, session_state_key
from ..wire.records import RecordType
from ..wire.serde import from_json
from .live import LiveResults
from .models import Execution, HistoryRecord
from .scans import JournalScans


class Views:
    def __init__(self, scans: JournalScans, live: LiveResults):
        self.scans = scans
        self.live = live
        self.log = scans.log

    def _not_found(self, execution_id: str) -> ExecutionNotFoundError:
        return ExecutionNotFoundError(f"no execution {execution_id!r} in namespace {self.log.namespace!r}")

    async def get_execution(self, execution_id: str, session_id: str | None) -> Execution:
        routing_key = names.routing_key(execution_id, session_id)
        row = self.live.watched_row(execution_id, routing_key)
        if row is None:
            state, _ = await self.scans.routing_key(routing_key)
            row = state.get(execution_key(execution_id))
        if row is None and session_id is None:  # perhaps a run of a session: look everywhere
            state, _ = await self.scans.elsewhere(execution_id)
            row = state.get(execution_key(execution_id))
        if row is None:
            raise self._not_found(execution_id)
        return Execution.from_row(row)

    async def history(self, execution_id: str, session_id: str | None, include_claims: bool) -> list[HistoryRecord]:
        state, folded = await self.scans.routing_key(names.routing_key(execution_id, session_id), collect=True)
        if session_id is None and state.get(execution_key(execution_id)) is None:
            _, folded = await self.scans.elsewhere(execution_id, collect=True)
        out = []
        for entry, record, effects in folded:
            if record["type"] == RecordType.PARTITION_CLAIMED:
                if not include_claims:
                    continue
            elif record["execution_id"] != execution_id:
                continue
            outcome = "applied"
            for effect in effects:
                if effect.kind in NOT_APPLIED:
                    outcome = (
                        "claim rejected"
                        if effect.kind == EffectKind.CLAIM_REJECTED
                        else f"{effect.kind}: {effect.data}"
                    )
            fields = {k: v for k, v in record.items() if k not in ("type", "at")}
            out.append(
                HistoryRecord(
                    offset=entry.offset,
                    type=record["type"],
                    at=to_datetime(record["at"]),
                    fields=fields,
                    outcome=outcome,
                )
            )
        if not any(r.type != RecordType.PARTITION_CLAIMED for r in out):
            raise self._not_found(execution_id)
        return out

    async def list_executions(self, status: str | None) -> list[Execution]:
        out = []
        for partition in range(self.log.num_partitions):
            state, _ = await self.scans.partition(partition, key=None, stop=None)
            for _, row in state.scan(EXECUTION_PREFIX):
                if status is None or row["status"] == status:
                    out.append(Execution.from_row(row))
        return sorted(out, key=lambda e: e.created_at or datetime.min.replace(tzinfo=UTC))

    async def session_state(self, session_id: str) -> dict:
        state, _ = await self.scans.routing_key(session_id)
        document = state.get(session_state_key(session_id)) or {}
        return {key: from_json(value) for key, value in document.items()}
