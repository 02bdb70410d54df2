"""Every key of a partition store, built and parsed here and nowhere else.

Keys are bytes, grouped by a short prefix so that one ``scan`` reads one kind. Ids may
contain ``/``, so an id that is followed by more of the key ends with ``\\0``. Numbers
are zero-padded, so byte order is numeric order: the timer index is ordered by due
time, and a journal by position. ``LAYOUT`` is the table of them all;
``docs/architecture.md`` shows it, and a test keeps the two the same.
"""

from __future__ import annotations

from typing import NamedTuple


class KeyKind(NamedTuple):
    prefix: bytes
    pattern: str
    holds: str


LAYOUT = (
    KeyKind(b"m/applied", "m/applied", "last applied offset, written in the same batch as the state it made"),
    KeyKind(b"m/epoch", "m/epoch", "{epoch, owner, at} of the current claim"),
    KeyKind(b"m/derived", "m/derived", "which derived keys the store holds for every row ({run_index: version})"),
    KeyKind(b"e/", "e/<execution>", "the execution row: workflow, status, input, result, error, times, open waits"),
    KeyKind(b"a/", "a/<execution>", "present while pending, running or waiting (what recovery resumes)"),
    KeyKind(b"ix/w/", "ix/w/<workflow>\\0<created ms>\\0<execution>", "the run index: by workflow, then creation time"),
    KeyKind(b"ix/s/", "ix/s/<status>\\0<created ms>\\0<execution>", "the run index: ended runs, by status and time"),
    KeyKind(b"j/", "j/<execution>\\0<seq>", "one journal entry per step or wait position"),
    KeyKind(b"t/", "t/<due ms>/<execution>/<seq>", "the timer index (sleeps, timeouts, deadlines), by due time"),
    KeyKind(b"s/", "s/<execution>/<name>", "an open suspension, by name"),
    KeyKind(b"r/", "r/<execution>/<name>", "a resume that came before its suspension"),
    KeyKind(b"ea/", "ea/<execution>\\0<seq>", "an open event wait, as its owner registers it"),
    KeyKind(b"eb/", "eb/<topic>\\0<key>\\0<ts><partition><offset>", "a buffered event (one hour, by record time)"),
    KeyKind(b"ew/", "ew/<topic>\\0<key>\\0<execution>\\0<seq>", "a registered event wait, on the event partition"),
    KeyKind(b"ed/", "ed/<execution>\\0<seq>", "the event partition's delivery outbox"),
    KeyKind(b"et/", "et/<topic>", "a topic workflows wait on, since when (partition 0)"),
    KeyKind(b"ck/", "ck/<parent>\\0<child>", "the spawn outbox: a child not yet reported back"),
    KeyKind(b"cr/", "cr/<child>", "an ended child's report, until its parent has it"),
    KeyKind(b"sl/", "sl/<session>", "the session's turn: the runs holding it and the queue"),
    KeyKind(b"ss/", "ss/<session>", "the session's state: key -> JSON of its value"),
    KeyKind(b"q/", "q/<queue>\\0<key>", "a queue key's slots: the runs holding one, the runs waiting, in order"),
    KeyKind(b"ql/", "ql/<queue>", "a queue's concurrency limit, as set at run time (QueueLimitSet)"),
    KeyKind(b"sc/", "sc/<schedule>", "a cron schedule: its spec, policies, last and next tick, open runs"),
    KeyKind(b"w/", "w/<worker>", "what a worker announced it runs (partition 0)"),
    KeyKind(b"d/", "d/<offset>", "a record that could not be decoded, with the reason"),
)

_SEQ = b"%010d"
_SEQ_LEN = 10

# -- partition metadata ------------------------------------------------------------------

APPLIED_KEY = b"m/applied"
EPOCH_KEY = b"m/epoch"
DERIVED_KEY = b"m/derived"


def dead_record_key(offset: int) -> bytes:
    return b"d/%020d" % offset


# -- executions and their journals ------------------------------------------------------------

EXECUTION_PREFIX = b"e/"
ACTIVE_PREFIX = b"a/"
TIMER_PREFIX = b"t/"


def execution_key(execution_id: str) -> bytes:
    return EXECUTION_PREFIX + execution_id.encode()


def active_key(execution_id: str) -> bytes:
    return ACTIVE_PREFIX + execution_id.encode()


def parse_active_key(key: bytes) -> str:
    """The execution id of an ``a/`` key."""
    return key[len(ACTIVE_PREFIX) :].decode()


def journal_prefix(execution_id: str) -> bytes:
    """``\\0`` ends the id: no id is a prefix of another's journal (ids may hold ``/``)."""
    return b"j/" + execution_id.encode() + b"\x00"


def journal_key(execution_id: str, seq: int) -> bytes:
    return journal_prefix(execution_id) + _SEQ % seq


def parse_journal_seq(key: bytes) -> int:
    """The step position of a ``j/`` key."""
    return int(key[-_SEQ_LEN:])


# -- the run index (``run_index.py``) -----------------------------------------------------------

_CREATED = b"%016d"


def run_workflow_prefix(workflow: str) -> bytes:
    return b"ix/w/" + workflow.encode() + b"\x00"


def run_workflow_key(workflow: str, created_at_ms: int, execution_id: str) -> bytes:
    return run_workflow_prefix(workflow) + _CREATED % created_at_ms + b"\x00" + execution_id.encode()


def run_status_prefix(status: str) -> bytes:
    return b"ix/s/" + status.encode() + b"\x00"


def run_status_key(status: str, created_at_ms: int, execution_id: str) -> bytes:
    return run_status_prefix(status) + _CREATED % created_at_ms + b"\x00" + execution_id.encode()


def created_bound(prefix: bytes, created_at_ms: int) -> bytes:
    """The first key of ``prefix`` (one of the run index's) created at or after this time."""
    return prefix + _CREATED % max(created_at_ms, 0)


def parse_run_index_key(prefix: bytes, key: bytes) -> tuple[int, str]:
    """(created at ms, execution id) of a run index key under ``prefix``."""
    rest = key[len(prefix) :]
    return int(rest[:16]), rest[17:].decode()


def timer_key(due_at_ms: int, execution_id: str, seq: int) -> bytes:
    """Timer index: ordered by due time, so the first key is the next timer to fire."""
    return b"t/%016d/" % due_at_ms + execution_id.encode() + b"/" + _SEQ % seq


def parse_timer_key(key: bytes) -> tuple[int, str, int]:
    """(due at ms, execution id, seq) of a ``t/`` key."""
    due, rest = key[2:18], key[19:]
    return int(due), rest[: -_SEQ_LEN - 1].decode(), int(rest[-_SEQ_LEN:])


def suspension_key(execution_id: str, name: str) -> bytes:
    return b"s/" + execution_id.encode() + b"/" + name.encode()


def early_resume_key(execution_id: str, name: str) -> bytes:
    return b"r/" + execution_id.encode() + b"/" + name.encode()


# -- event waits ------------------------------------------------------------------------------

AWAITING_PREFIX = b"ea/"
DELIVERY_OUTBOX_PREFIX = b"ed/"
AWAITED_TOPICS_PREFIX = b"et/"


def _id_and_seq(execution_id: str, seq: int) -> bytes:
    return execution_id.encode() + b"\x00" + _SEQ % seq


def _parse_id_and_seq(rest: bytes) -> tuple[str, int]:
    return rest[: -_SEQ_LEN - 1].decode(), int(rest[-_SEQ_LEN:])


def awaiting_key(execution_id: str, seq: int) -> bytes:
    """Open event waits on the waiter's partition (what its owner registers, and re-registers)."""
    return AWAITING_PREFIX + _id_and_seq(execution_id, seq)


def parse_awaiting_key(key: bytes) -> tuple[str, int]:
    """(execution id, seq) of an ``ea/`` key."""
    return _parse_id_and_seq(key[len(AWAITING_PREFIX) :])


def _stream(topic: str, event_key: str | None) -> bytes:
    return topic.encode() + b"\x00" + (event_key or "").encode() + b"\x00"


def buffer_prefix(topic: str, event_key: str | None) -> bytes:
    """The buffered events of one topic/key, in (timestamp, partition, offset) order."""
    return b"eb/" + _stream(topic, event_key)


def buffer_key(topic: str, event_key: str | None, timestamp_ms: int, partition: int, offset: int) -> bytes:
    return buffer_prefix(topic, event_key) + b"%016d%06d%020d" % (timestamp_ms, partition, offset)


def waiter_prefix(topic: str, event_key: str | None) -> bytes:
    """The registered waits on one topic/key."""
    return b"ew/" + _stream(topic, event_key)


def waiter_key(topic: str, event_key: str | None, execution_id: str, seq: int) -> bytes:
    return waiter_prefix(topic, event_key) + _id_and_seq(execution_id, seq)


def parse_waiter_key(topic: str, event_key: str | None, key: bytes) -> tuple[str, int]:
    """(execution id, seq) of an ``ew/`` key of that topic/key."""
    return _parse_id_and_seq(key[len(waiter_prefix(topic, event_key)) :])


def delivery_key(execution_id: str, seq: int) -> bytes:
    """The event partition's outbox: a delivery not yet confirmed on the waiter's partition."""
    return DELIVERY_OUTBOX_PREFIX + _id_and_seq(execution_id, seq)


def topic_key(topic: str) -> bytes:
    return AWAITED_TOPICS_PREFIX + topic.encode()


def parse_topic_key(key: bytes) -> str:
    return key[len(AWAITED_TOPICS_PREFIX) :].decode()


# -- child workflows --------------------------------------------------------------------------

CHILD_OUTBOX_PREFIX = b"ck/"
REPORTS_PREFIX = b"cr/"


def children_prefix(parent_id: str) -> bytes:
    """The parent partition's outbox: children that have not reported back yet."""
    return CHILD_OUTBOX_PREFIX + parent_id.encode() + b"\x00"


def child_key(parent_id: str, child_id: str) -> bytes:
    return children_prefix(parent_id) + child_id.encode()


def report_key(child_id: str) -> bytes:
    """The child partition's outbox: an ended child's report, until its parent has it."""
    return REPORTS_PREFIX + child_id.encode()


def parse_report_key(key: bytes) -> str:
    """The child's execution id of a ``cr/`` key."""
    return key[len(REPORTS_PREFIX) :].decode()


# -- sessions ---------------------------------------------------------------------------------


def session_lock_key(session_id: str) -> bytes:
    return b"sl/" + session_id.encode()


def session_state_key(session_id: str) -> bytes:
    """The session's state: a dict of key -> JSON of its value."""
    return b"ss/" + session_id.encode()


# -- workers ----------------------------------------------------------------------------------

WORKERS_PREFIX = b"w/"


def worker_key(worker: str) -> bytes:
    return WORKERS_PREFIX + worker.encode()


def layout_table() -> str:
    """``LAYOUT`` as the block ``docs/architecture.md`` shows."""
    width = max(len(kind.pattern) for kind in LAYOUT) + 2
    return "\n".join(f"{kind.pattern:<{width}}{kind.holds}" for kind in LAYOUT)


# -- cron schedules ----------------------------------------------------------------------------

SCHEDULE_PREFIX = b"sc/"
SCHEDULE_TIMER_SEQ = 0  # a schedule's timer: t/<next tick>/\0sched/<schedule>/0


def schedule_key(schedule_id: str) -> bytes:
    return SCHEDULE_PREFIX + schedule_id.encode()


def parse_schedule_key(key: bytes) -> str:
    return key[len(SCHEDULE_PREFIX) :].decode()


def schedule_timer_id(schedule_id: str) -> str:
    """The id part of a schedule's timer key (no execution id starts with NUL)."""
    return "\x00sched/" + schedule_id


def schedule_timer_key(due_at_ms: int, schedule_id: str) -> bytes:
    return timer_key(due_at_ms, schedule_timer_id(schedule_id), SCHEDULE_TIMER_SEQ)


# -- queues ------------------------------------------------------------------------------------

QUEUE_PREFIX = b"q/"


def queue_key(queue: str, key: str | None) -> bytes:
    return QUEUE_PREFIX + queue.encode() + b"\0" + (key or "").encode()


def queue_prefix(queue: str) -> bytes:
    """Every key of one queue."""
    return QUEUE_PREFIX + queue.encode() + b"\0"


def queue_limit_key(queue: str) -> bytes:
    return b"ql/" + queue.encode()
