"""The fold's entry point: fencing (rule 1), then the rule for the record's type.

``apply(state, record)`` reads and writes only ``state`` and returns effects that tell
the runtime what happened. It reads no clock (time comes from the record's ``at``),
draws no randomness, does no I/O and calls no user code, so replaying a partition from
offset 0, or applying a record twice, gives the same state.

1. Fencing. ``PartitionClaimed`` with an epoch above the current one becomes the current
   claim; any other claim is rejected. A record written by an owner (``epoch > 0``) is
   accepted only if its epoch is the current one: a processor that lost its partition
   cannot change state any more. Commands carry epoch 0 and are never fenced.

The other rules, one module per concern: executions, steps and cancellation
(``executions.py``, rules 2, 3, 5), sleeps and suspensions (``waits.py``, 4), event waits
(``event_waits.py``, 6-8), child workflows (``children.py``, 9-11), sessions
(``sessions.py``, 12), workers' announcements (``workers.py``, 13), cron schedules
(``schedules.py``, 14), queues (``queues.py``, 15).
"""

from __future__ import annotations

from ..wire.records import RecordType
from . import children, event_waits, executions, queues, schedules, sessions, waits, workers
from .effects import Effect, EffectKind, ignored
from .keys import EPOCH_KEY
from .state import State


def current_epoch(state: State) -> int:
    claim = state.get(EPOCH_KEY)
    return claim["epoch"] if claim else 0


def partition_claimed(state: State, record: dict) -> list[Effect]:
    claim = {"epoch": record["epoch"], "owner": record["owner"], "at": record["at"]}
    if record["epoch"] > current_epoch(state):
        state.put(EPOCH_KEY, claim)
        return [Effect(EffectKind.CLAIMED, "", claim)]
    return [Effect(EffectKind.CLAIM_REJECTED, "", claim)]


RULES = {
    RecordType.PARTITION_CLAIMED: partition_claimed,
    **executions.RULES,
    **waits.RULES,
    **event_waits.RULES,
    **children.RULES,
    **sessions.RULES,
    **workers.RULES,
    **schedules.RULES,
    **queues.RULES,
}

_missing = set(RecordType) - set(RULES)
if _missing:  # a record type without a rule would be ignored silently in production
    raise ImportError(f"the fold has no rule for {sorted(_missing)}")


def apply(state: State, record: dict) -> list[Effect]:
    """Fold one decoded record into ``state``; the effects say what it did."""
    kind = record["type"]
    rule = RULES.get(kind)
    if rule is partition_claimed:  # rule 1 itself: claims are never fenced
        return partition_claimed(state, record)
    epoch = record["epoch"]
    if epoch:
        current = current_epoch(state)
        if epoch != current:
            return [
                Effect(EffectKind.FENCED, record["execution_id"], f"epoch {epoch} is not the owner's epoch {current}")
            ]
    if rule is None:  # a record type this version does not fold (written by a newer one)
        return [ignored(record["execution_id"], f"no fold rule for {kind}")]
    return rule(state, record)
