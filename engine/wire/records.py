"""Journal records: their types, and one builder per type.

A record is a dict: ``type`` (the name of its Avro schema in ``schemas/``), the header
every record starts with, and the fields of its type. ``Codec.encode`` writes such a
dict; ``Codec.decode`` gives one back. The header:

* ``execution_id``: the execution the record is about ("" for partition-level records);
* ``epoch``: the writer's owner epoch. Owners (partition processors) write with theirs,
  and the fold rejects it once a newer owner claimed the partition. Commands (what
  clients, the router and other partitions' owners send) carry ``COMMAND_EPOCH`` and are
  never fenced; they are idempotent instead;
* ``at``: the writer's clock in ms. The fold reads no clock: time enters only here.

Builders of owner records take ``epoch``; builders of commands don't.
"""

from __future__ import annotations

from enum import StrEnum

Record = dict

COMMAND_EPOCH = 0


class RecordType(StrEnum):
    """Every record type, by the name of its schema (``tests/unit/test_codec.py`` checks the list)."""

    # partition ownership
    PARTITION_CLAIMED = "PartitionClaimed"
    # executions and steps
    INVOCATION_REQUESTED = "InvocationRequested"
    EXECUTION_STARTED = "ExecutionStarted"
    STEP_COMPLETED = "StepCompleted"
    STEP_ATTEMPT_FAILED = "StepAttemptFailed"
    STEP_FAILED = "StepFailed"
    EXECUTION_COMPLETED = "ExecutionCompleted"
    EXECUTION_FAILED = "ExecutionFailed"
    CANCEL_REQUESTED = "CancelRequested"
    EXECUTION_CANCELLED = "ExecutionCancelled"
    # waits
    TIMER_SCHEDULED = "TimerScheduled"
    TIMER_FIRED = "TimerFired"
    SUSPENDED = "Suspended"
    RESUME_REQUESTED = "ResumeRequested"
    # waits for domain events
    EVENT_AWAITED = "EventAwaited"
    WAIT_REGISTERED = "WaitRegistered"
    EVENT_RECEIVED = "EventReceived"
    EVENT_DELIVERED = "EventDelivered"
    DELIVERIES_CONFIRMED = "DeliveriesConfirmed"
    WAIT_CLOSED = "WaitClosed"
    TOPIC_AWAITED = "TopicAwaited"
    # child workflows
    CHILD_INVOKED = "ChildInvoked"
    CHILD_FINISHED = "ChildFinished"
    CHILD_ACKNOWLEDGED = "ChildAcknowledged"
    # sessions
    SESSION_LOCK_REQUESTED = "SessionLockRequested"
    SESSION_STATE_SET = "SessionStateSet"
    # queues
    RUN_PARKED = "RunParked"
    QUEUE_TICKED = "QueueTicked"
    QUEUE_LIMIT_SET = "QueueLimitSet"
    # cron schedules
    SCHEDULE_SET = "ScheduleSet"
    SCHEDULE_COMMAND = "ScheduleCommand"
    SCHEDULE_TICKED = "ScheduleTicked"
    # workers
    WORKER_ANNOUNCED = "WorkerAnnounced"


def _record(record_type: RecordType, execution_id: str, epoch: int, at_ms: int, **fields) -> Record:
    """The header, built here and nowhere else, followed by the type's fields."""
    return {"type": record_type, "execution_id": execution_id, "epoch": epoch, "at": at_ms, **fields}


# -- partition ownership ------------------------------------------------------------------


def partition_claimed(epoch: int, at_ms: int, *, owner: str) -> Record:
    return _record(RecordType.PARTITION_CLAIMED, "", epoch, at_ms, owner=owner)


def deliveries_confirmed(epoch: int, at_ms: int, *, deliveries: list[dict]) -> Record:
    """Owner of an event partition: these outbox deliveries are on their waiters' partitions."""
    return _record(RecordType.DELIVERIES_CONFIRMED, "", epoch, at_ms, deliveries=deliveries)


# -- executions and steps (owner) -----------------------------------------------------------


def execution_started(execution_id: str, epoch: int, at_ms: int, *, worker: str) -> Record:
    return _record(RecordType.EXECUTION_STARTED, execution_id, epoch, at_ms, worker=worker)


def step_completed(
    execution_id: str, epoch: int, at_ms: int, *, seq: int, key: str, attempt: int, result: str,
    state: str | None = None, started_at: int | None = None,
) -> Record:  # fmt: skip
    """A step returned; ``started_at`` (ms) is when this attempt began."""
    return _record(
        RecordType.STEP_COMPLETED, execution_id, epoch, at_ms,
        seq=seq, key=key, attempt=attempt, result=result, state=state, started_at=started_at,
    )  # fmt: skip


def step_attempt_failed(
    execution_id: str, epoch: int, at_ms: int, *, seq: int, key: str, attempt: int, error: dict, retry_at: int,
    started_at: int | None = None,
) -> Record:  # fmt: skip
    """A retryable failure; ``retry_at`` (ms) is when the next attempt is due, ``started_at``
    when this one began."""
    fields = {
        "seq": seq,
        "key": key,
        "attempt": attempt,
        "error": error,
        "retry_at": retry_at,
        "started_at": started_at,
    }
    return _record(RecordType.STEP_ATTEMPT_FAILED, execution_id, epoch, at_ms, **fields)


def step_failed(
    execution_id: str, epoch: int, at_ms: int, *, seq: int, key: str, attempt: int, error: dict,
    state: str | None = None, started_at: int | None = None,
) -> Record:  # fmt: skip
    """The step failed for good; ``started_at`` (ms) is when its last attempt began."""
    fields = {"seq": seq, "key": key, "attempt": attempt, "error": error, "state": state, "started_at": started_at}
    return _record(RecordType.STEP_FAILED, execution_id, epoch, at_ms, **fields)


def execution_completed(execution_id: str, epoch: int, at_ms: int, *, result: str, state: str | None = None) -> Record:
    return _record(RecordType.EXECUTION_COMPLETED, execution_id, epoch, at_ms, result=result, state=state)


def execution_failed(execution_id: str, epoch: int, at_ms: int, *, error: dict, state: str | None = None) -> Record:
    return _record(RecordType.EXECUTION_FAILED, execution_id, epoch, at_ms, error=error, state=state)


def execution_cancelled(execution_id: str, epoch: int, at_ms: int, *, reason: str, terminated: bool = False) -> Record:
    return _record(RecordType.EXECUTION_CANCELLED, execution_id, epoch, at_ms, reason=reason, terminated=terminated)


# -- waits (owner) ------------------------------------------------------------------------


def timer_scheduled(execution_id: str, epoch: int, at_ms: int, *, seq: int, key: str, due_at: int) -> Record:
    return _record(RecordType.TIMER_SCHEDULED, execution_id, epoch, at_ms, seq=seq, key=key, due_at=due_at)


def timer_fired(execution_id: str, epoch: int, at_ms: int, *, seq: int, key: str, due_at: int) -> Record:
    return _record(RecordType.TIMER_FIRED, execution_id, epoch, at_ms, seq=seq, key=key, due_at=due_at)


def suspended(
    execution_id: str, epoch: int, at_ms: int, *, seq: int, key: str, data: str, timeout_at: int | None = None
) -> Record:
    return _record(RecordType.SUSPENDED, execution_id, epoch, at_ms, seq=seq, key=key, data=data, timeout_at=timeout_at)


def event_awaited(
    execution_id: str,
    epoch: int,
    at_ms: int,
    *,
    seq: int,
    key: str,
    topic: str,
    event_key: str | None,
    timeout_at: int | None = None,
) -> Record:
    return _record(
        RecordType.EVENT_AWAITED,
        execution_id,
        epoch,
        at_ms,
        seq=seq,
        key=key,
        topic=topic,
        event_key=event_key,
        timeout_at=timeout_at,
    )


def child_invoked(
    execution_id: str,
    epoch: int,
    at_ms: int,
    *,
    seq: int,
    key: str,
    child_execution_id: str,
    workflow: str,
    input: str,
    initial_state: str | None,
    run_timeout_ms: int | None,
    wait: bool,
    queue: dict | None = None,
) -> Record:
    return _record(
        RecordType.CHILD_INVOKED,
        execution_id,
        epoch,
        at_ms,
        seq=seq,
        key=key,
        child_execution_id=child_execution_id,
        workflow=workflow,
        input=input,
        initial_state=initial_state,
        run_timeout_ms=run_timeout_ms,
        wait=wait,
        queue=queue,
    )


def session_lock_requested(execution_id: str, epoch: int, at_ms: int, *, seq: int, key: str) -> Record:
    return _record(RecordType.SESSION_LOCK_REQUESTED, execution_id, epoch, at_ms, seq=seq, key=key)


def session_state_set(
    execution_id: str, epoch: int, at_ms: int, *, seq: int, key: str, name: str, value: str
) -> Record:
    return _record(RecordType.SESSION_STATE_SET, execution_id, epoch, at_ms, seq=seq, key=key, name=name, value=value)


# -- commands (epoch 0): clients, the router, and owners writing to other partitions ---------


def invocation_requested(
    execution_id: str,
    at_ms: int,
    *,
    workflow: str,
    input: str,
    user_id: str | None = None,
    session_id: str | None = None,
    run_timeout_ms: int | None = None,
    initial_state: str | None = None,
    parent_execution_id: str | None = None,
    root_execution_id: str | None = None,
    parent_seq: int | None = None,
    reply_key: str | None = None,
    queue: dict | None = None,
    rerun: dict | None = None,
    traceparent: str | None = None,
) -> Record:
    """Start an execution; idempotent by execution id. ``queue``: {name, key, limit, priority}.
    ``rerun``: {execution_id, from_step, from_seq, journal} of the run it reruns.
    ``traceparent``: the caller's W3C trace context; left out when None (its default), so
    what the fold keeps of an invocation (a child's in its parent's outbox) is unchanged."""
    record = _record(
        RecordType.INVOCATION_REQUESTED,
        execution_id,
        COMMAND_EPOCH,
        at_ms,
        workflow=workflow,
        input=input,
        user_id=user_id,
        session_id=session_id,
        parent_execution_id=parent_execution_id,
        root_execution_id=root_execution_id,
        run_timeout_ms=run_timeout_ms,
        initial_state=initial_state,
        parent_seq=parent_seq,
        reply_key=reply_key,
        queue=queue,
        rerun=rerun,
    )
    if traceparent is not None:
        record["traceparent"] = traceparent
    return record


def cancel_requested(execution_id: str, at_ms: int, *, reason: str, terminate: bool = False) -> Record:
    """Stop the execution at its next step or wait; with ``terminate``, now."""
    return _record(RecordType.CANCEL_REQUESTED, execution_id, COMMAND_EPOCH, at_ms, reason=reason, terminate=terminate)


def resume_requested(execution_id: str, at_ms: int, *, name: str, data: str) -> Record:
    return _record(RecordType.RESUME_REQUESTED, execution_id, COMMAND_EPOCH, at_ms, name=name, data=data)


def wait_registered(
    execution_id: str, at_ms: int, *, seq: int, topic: str, event_key: str | None, since: list[int], reply_key: str
) -> Record:
    return _record(
        RecordType.WAIT_REGISTERED,
        execution_id,
        COMMAND_EPOCH,
        at_ms,
        seq=seq,
        topic=topic,
        event_key=event_key,
        since=since,
        reply_key=reply_key,
    )


def event_received(
    at_ms: int, *, topic: str, event_key: str | None, partition: int, offset: int, timestamp: int, data: str
) -> Record:
    return _record(
        RecordType.EVENT_RECEIVED,
        "",
        COMMAND_EPOCH,
        at_ms,
        topic=topic,
        event_key=event_key,
        partition=partition,
        offset=offset,
        timestamp=timestamp,
        data=data,
    )


def event_delivered(
    execution_id: str,
    at_ms: int,
    *,
    seq: int,
    topic: str,
    event_key: str | None,
    partition: int,
    offset: int,
    timestamp: int,
    data: str,
) -> Record:
    return _record(
        RecordType.EVENT_DELIVERED,
        execution_id,
        COMMAND_EPOCH,
        at_ms,
        seq=seq,
        topic=topic,
        event_key=event_key,
        partition=partition,
        offset=offset,
        timestamp=timestamp,
        data=data,
    )


def wait_closed(execution_id: str, at_ms: int, *, seq: int, topic: str, event_key: str | None) -> Record:
    return _record(
        RecordType.WAIT_CLOSED, execution_id, COMMAND_EPOCH, at_ms, seq=seq, topic=topic, event_key=event_key
    )


def topic_awaited(at_ms: int, *, topic: str, since: int) -> Record:
    return _record(RecordType.TOPIC_AWAITED, "", COMMAND_EPOCH, at_ms, topic=topic, since=since)


def child_finished(
    execution_id: str,
    at_ms: int,
    *,
    seq: int,
    child_execution_id: str,
    child_key: str,
    status: str,
    result: str | None,
    error: dict | None,
) -> Record:
    """A child's end, sent to its parent (``execution_id``) at the parent's step ``seq``."""
    return _record(
        RecordType.CHILD_FINISHED,
        execution_id,
        COMMAND_EPOCH,
        at_ms,
        seq=seq,
        child_execution_id=child_execution_id,
        child_key=child_key,
        status=status,
        result=result,
        error=error,
    )


def worker_announced(at_ms: int, *, worker: str, workflows: list[dict]) -> Record:
    """A worker started; ``workflows``: ``{"name", "triggers": [topic, ...]}`` each."""
    return _record(RecordType.WORKER_ANNOUNCED, "", COMMAND_EPOCH, at_ms, worker=worker, workflows=workflows)


def child_acknowledged(execution_id: str, at_ms: int) -> Record:
    """The parent's partition has the child's report: the child's partition may forget it."""
    return _record(RecordType.CHILD_ACKNOWLEDGED, execution_id, COMMAND_EPOCH, at_ms)


# -- cron schedules ---------------------------------------------------------------------------


def schedule_set(
    at_ms: int,
    *,
    schedule_id: str,
    workflow: str,
    key: str,
    cron: str,
    timezone: str,
    overlap: str,
    catch_up_s: int,
    source: str,
    next_tick_ms: int | None,
) -> Record:
    return _record(
        RecordType.SCHEDULE_SET,
        "",
        COMMAND_EPOCH,
        at_ms,
        schedule_id=schedule_id,
        workflow=workflow,
        key=key,
        cron=cron,
        timezone=timezone,
        overlap=overlap,
        catch_up_s=catch_up_s,
        source=source,
        next_tick_ms=next_tick_ms,
    )


def schedule_command(
    at_ms: int,
    *,
    schedule_id: str,
    action: str,
    ticks: list[int] | None = None,
    next_tick_ms: int | None = None,
    trigger_id: str | None = None,
) -> Record:
    return _record(
        RecordType.SCHEDULE_COMMAND,
        "",
        COMMAND_EPOCH,
        at_ms,
        schedule_id=schedule_id,
        action=action,
        ticks=ticks or [],
        next_tick_ms=next_tick_ms,
        trigger_id=trigger_id,
    )


def schedule_ticked(
    epoch: int, at_ms: int, *, schedule_id: str, due_at: int, ticks: list[int], next_tick_ms: int | None
) -> Record:
    """Owner: the schedule's timer at ``due_at`` went off; ``ticks`` are due."""
    return _record(
        RecordType.SCHEDULE_TICKED,
        "",
        epoch,
        at_ms,
        schedule_id=schedule_id,
        due_at=due_at,
        ticks=ticks,
        next_tick_ms=next_tick_ms,
    )


# -- queues -------------------------------------------------------------------------------------


def run_parked(execution_id: str, epoch: int, at_ms: int, *, waits: list[int]) -> Record:
    """Owner: the queued run's every branch waits at ``waits``; it gives its slot back."""
    return _record(RecordType.RUN_PARKED, execution_id, epoch, at_ms, waits=waits)


def queue_limit_set(at_ms: int, *, queue: str, limit: int) -> Record:
    return _record(RecordType.QUEUE_LIMIT_SET, "", COMMAND_EPOCH, at_ms, queue=queue, limit=limit)


def queue_ticked(epoch: int, at_ms: int, *, queue: str, key: str | None, due_at: int) -> Record:
    """Owner: the rate-limit timer of (``queue``, ``key``) at ``due_at`` went off."""
    return _record(RecordType.QUEUE_TICKED, "", epoch, at_ms, queue=queue, key=key, due_at=due_at)
