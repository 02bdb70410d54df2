"""What the fold tells the runtime: one ``Effect`` per thing a record did.

The fold decides and the runtime acts. ``fold.apply`` returns a list of effects; the
partition processor acts on each through a dispatch table that must cover every
``EffectKind`` (checked when its module loads), and hands the cross-partition ones to
the messenger, whose table must cover exactly ``CROSS_PARTITION``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple


class EffectKind(StrEnum):
    """The closed set of fold outputs. ``data`` of an ``Effect`` depends on the kind."""

    # partition ownership (rule 1)                                    data:
    CLAIMED = "claimed"  # the claim dict
    CLAIM_REJECTED = "claim_rejected"  # the claim dict
    FENCED = "fenced"  # why (a string)
    # executions and steps (rules 2, 3, 5)
    INVOKED = "invoked"  # the new row
    STARTED = "started"  # the row
    STEP = "step"  # (seq, entry): what the journal now holds at seq
    FINISHED = "finished"  # the ended row
    CANCEL = "cancel"  # the row, with its cancel request
    # waits (rule 4)
    TIMER = "timer"  # a due time (ms) went into the timer index
    TIMER_DONE = "timer_done"  # the timer index key that left the index
    WOKEN = "woken"  # the row: a wait of it ended
    BUFFERED = "buffered"  # why: a resume kept until its suspension opens
    # event waits (rules 6-8)
    AWAIT_EVENT = "await_event"  # the registration to send to the event partition
    REGISTERED = "registered"  # what it waits for
    DELIVER = "deliver"  # the outbox delivery to send to the waiter
    CLOSE_WAIT = "close_wait"  # {seq, topic, event_key}: tell the event partition to forget it
    TOPIC_AWAITED = "topic_awaited"  # {topic, since}: the router reads the topic from then on
    # child workflows (rules 9-11)
    SPAWN = "spawn"  # the outbox entry: {routing, invocation}
    REPORT = "report"  # the ended child's report to send to its parent
    CANCEL_CHILD = "cancel_child"  # the outbox entry of a child to cancel
    CHILD_ACK = "child_ack"  # {routing}: tell the child's partition its report arrived
    # queues (rule 15)
    QUEUED = "queued"  # the row: the run waits for a slot of its queue
    QUEUE = "queue"  # a queue key's slots after a change
    # cron schedules (rule 14)
    SCHEDULE = "schedule"  # the schedule's row after the change (None once deleted)
    # nothing changed
    DUPLICATE = "duplicate"  # why
    IGNORED = "ignored"  # why


class Effect(NamedTuple):
    """What a record did: ``kind``, the execution it concerns ("" for none), and data."""

    kind: EffectKind
    execution_id: str
    data: object


# Effects the owner turns into commands for other partitions (runtime/messenger.py).
CROSS_PARTITION = frozenset(
    {
        EffectKind.AWAIT_EVENT,
        EffectKind.DELIVER,
        EffectKind.CLOSE_WAIT,
        EffectKind.TOPIC_AWAITED,
        EffectKind.SPAWN,
        EffectKind.CANCEL_CHILD,
        EffectKind.REPORT,
        EffectKind.CHILD_ACK,
    }
)

# Effects that mean the record changed nothing, or not what it asked for (history shows why).
NOT_APPLIED = frozenset(
    {
        EffectKind.FENCED,
        EffectKind.DUPLICATE,
        EffectKind.IGNORED,
        EffectKind.CLAIM_REJECTED,
        EffectKind.BUFFERED,
    }
)


def verdict(effects: list[Effect]) -> str:
    """What the fold made of a record, in words: ``applied``, or why not (``history`` shows it)."""
    outcome = "applied"
    for effect in effects:
        if effect.kind in NOT_APPLIED:
            outcome = "claim rejected" if effect.kind == EffectKind.CLAIM_REJECTED else f"{effect.kind}: {effect.data}"
    return outcome


# Members used once per record, as module names (docs/architecture.md: enum members on hot paths).
_STEP, _DUPLICATE, _IGNORED = EffectKind.STEP, EffectKind.DUPLICATE, EffectKind.IGNORED


def step(execution_id: str, seq: int, entry: dict) -> Effect:
    """The journal now holds ``entry`` at ``seq``: a step or wait caller may go on."""
    return Effect(_STEP, execution_id, (seq, entry))


def duplicate(execution_id: str, why: str) -> Effect:
    return Effect(_DUPLICATE, execution_id, why)


def ignored(execution_id: str, why: str) -> Effect:
    return Effect(_IGNORED, execution_id, why)
