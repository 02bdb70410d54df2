"""Export histories: one execution's records, and its children's, as history files."""

from __future__ import annotations

from ..client import Client
from ..wire.records import RecordType
from .history_file import HistoryFile, from_records


async def export_history(client: Client, execution_id: str, *, with_children: bool = False) -> HistoryFile:
    """The history file of ``execution_id``; with ``with_children``, each child run's
    history inside it, and theirs, down the tree."""
    execution = await client.get_execution(execution_id)
    records = await client.history(execution_id, session_id=execution.session_id)
    history = from_records(
        execution_id,
        records,
        workflow=execution.workflow,
        status=execution.status,
        namespace=client.log.namespace,
    )
    if with_children:
        child_ids = dict.fromkeys(r.fields["child_execution_id"] for r in records if r.type == RecordType.CHILD_INVOKED)
        history.children = [await export_history(client, child, with_children=True) for child in child_ids]
    return history
