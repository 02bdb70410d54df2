"""The fold: how one journal record changes a partition's state. Pure and deterministic.

``apply(state, record)`` reads and writes only ``state`` (see ``store.State``) and
returns events that tell the runtime what happened. It reads no clock (time comes from
the record's ``at``), draws no randomness, does no I/O and calls no user code, so
replaying a partition from offset 0, or applying a record twice, gives the same state.

Rules:

1. Fencing. ``PartitionClaimed`` with an epoch above the current one becomes the current
   claim; any other claim is rejected. A record written by an owner (``epoch > 0``) is
   accepted only if its epoch is the current one: a processor that lost its partition
   cannot change state any more. Client commands carry epoch 0 and are never fenced.
2. Executions. The first ``InvocationRequested`` for an execution id creates it
   (``pending``); later ones are duplicates. ``ExecutionStarted`` moves it to
   ``running``. ``ExecutionCompleted``/``ExecutionFailed`` end it; after that, nothing
   about it changes.
3. Steps. The first record that ends a step (``StepCompleted`` or ``StepFailed``) at a
   position wins; later ones are duplicates and the event repeats the winner.
   ``StepAttemptFailed`` records a retry that is due at ``retry_at``.
"""

from __future__ import annotations

from typing import NamedTuple

from .store import State

PENDING, RUNNING, COMPLETED, FAILED = "pending", "running", "completed", "failed"
ACTIVE = (PENDING, RUNNING)
EPOCH_KEY = b"m/epoch"


class Event(NamedTuple):
    """What a record did. ``kind`` is one of the names below; ``data`` depends on it.

    claimed / claim_rejected: the claim dict · invoked / started / finished: the row ·
    step: (seq, entry) · fenced / ignored / duplicate: a reason string.
    """

    kind: str
    execution_id: str
    data: object


def execution_key(execution_id: str) -> bytes:
    return b"e/" + execution_id.encode()


def active_key(execution_id: str) -> bytes:
    return b"a/" + execution_id.encode()


def journal_prefix(execution_id: str) -> bytes:
    return b"j/" + execution_id.encode() + b"/"


def journal_key(execution_id: str, seq: int) -> bytes:
    return journal_prefix(execution_id) + b"%010d" % seq


def current_epoch(state: State) -> int:
    claim = state.get(EPOCH_KEY)
    return claim["epoch"] if claim else 0


def apply(state: State, record: dict) -> list[Event]:
    kind = record["type"]
    if kind == "PartitionClaimed":
        return _claim(state, record)
    epoch = record["epoch"]
    if epoch:
        current = current_epoch(state)
        if epoch != current:
            return [Event("fenced", record["execution_id"], f"epoch {epoch} is not the owner's epoch {current}")]
    handler = _HANDLERS.get(kind)
    if handler is None:  # a record type this version does not fold (written by a newer one)
        return [Event("ignored", record["execution_id"], f"no fold rule for {kind}")]
    return handler(state, record)


def _claim(state: State, record: dict) -> list[Event]:
    claim = {"epoch": record["epoch"], "owner": record["owner"], "at": record["at"]}
    if record["epoch"] > current_epoch(state):
        state.put(EPOCH_KEY, claim)
        return [Event("claimed", "", claim)]
    return [Event("claim_rejected", "", claim)]


def _invocation_requested(state: State, r: dict) -> list[Event]:
    execution_id = r["execution_id"]
    if state.get(execution_key(execution_id)) is not None:
        return [Event("duplicate", execution_id, "execution already exists")]
    row = {
        "id": execution_id,
        "workflow": r["workflow"],
        "status": PENDING,
        "input": r["input"],
        "user_id": r.get("user_id"),
        "session_id": r.get("session_id"),
        "parent_id": r.get("parent_execution_id"),
        "root_id": r.get("root_execution_id") or execution_id,
        "created_at": r["at"],
        "started_at": None,
        "completed_at": None,
        "result": None,
        "error": None,
    }
    state.put(execution_key(execution_id), row)
    state.put(active_key(execution_id), {})
    return [Event("invoked", execution_id, row)]


def _active_row(state: State, r: dict) -> tuple[dict | None, list[Event]]:
    row = state.get(execution_key(r["execution_id"]))
    if row is None:
        return None, [Event("ignored", r["execution_id"], "unknown execution")]
    if row["status"] not in ACTIVE:
        return None, [Event("ignored", r["execution_id"], f"execution is {row['status']}")]
    return row, []


def _execution_started(state: State, r: dict) -> list[Event]:
    row, ignored = _active_row(state, r)
    if row is None:
        return ignored
    if row["status"] == RUNNING:
        return [Event("duplicate", row["id"], "already running")]
    row["status"] = RUNNING
    row["started_at"] = r["at"]
    state.put(execution_key(row["id"]), row)
    return [Event("started", row["id"], row)]


def _step_outcome(state: State, r: dict) -> list[Event]:
    row, ignored = _active_row(state, r)
    if row is None:
        return ignored
    execution_id, seq = row["id"], r["seq"]
    key = journal_key(execution_id, seq)
    existing = state.get(key)
    if existing is not None and (existing["status"] != "retrying" or r["type"] == "StepAttemptFailed"
                                 and r["attempt"] <= existing["attempt"]):
        return [Event("step", execution_id, (seq, existing)), Event("duplicate", execution_id, "step already recorded")]
    entry = {"key": r["key"], "attempt": r["attempt"], "at": r["at"]}
    if r["type"] == "StepCompleted":
        entry.update(status="completed", result=r["result"])
    elif r["type"] == "StepFailed":
        entry.update(status="failed", error=r["error"])
    else:
        entry.update(status="retrying", error=r["error"], retry_at=r["retry_at"])
    state.put(key, entry)
    return [Event("step", execution_id, (seq, entry))]


def _execution_ended(state: State, r: dict) -> list[Event]:
    row, ignored = _active_row(state, r)
    if row is None:
        return ignored
    if r["type"] == "ExecutionCompleted":
        row.update(status=COMPLETED, result=r["result"])
    else:
        row.update(status=FAILED, error=r["error"])
    row["completed_at"] = r["at"]
    state.put(execution_key(row["id"]), row)
    state.delete(active_key(row["id"]))
    return [Event("finished", row["id"], row)]


_HANDLERS = {
    "InvocationRequested": _invocation_requested,
    "ExecutionStarted": _execution_started,
    "StepCompleted": _step_outcome,
    "StepFailed": _step_outcome,
    "StepAttemptFailed": _step_outcome,
    "ExecutionCompleted": _execution_ended,
    "ExecutionFailed": _execution_ended,
}
