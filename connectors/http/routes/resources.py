"""Domain events, schedules and queues."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Path, Query

from engine import Schedule, names

from .. import errors
from ..deps import EngineDep
from ..errors import ApiError, ErrorCode
from ..models import (
    MAX_ID_CHARS,
    EventPublished,
    EventRequest,
    QueueLimit,
    QueueLimitRequest,
    QueueList,
    ScheduleList,
)

router = APIRouter()

_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")  # what Kafka accepts as a topic name


def _check_topic(topic: str, namespace: str) -> None:
    """A domain topic: a name Kafka takes, and not one of the engine's own topics."""
    name, sep, key = topic.partition("/")
    if sep and not key:
        raise ApiError(422, ErrorCode.INVALID_INPUT, f"{topic!r}: no key after the '/'")
    if not _TOPIC_NAME.match(name) or name in (".", ".."):
        raise ApiError(422, ErrorCode.INVALID_INPUT, f"{name!r} is not a topic name: 1 to 249 of A-Z a-z 0-9 . _ -")
    if name in (names.journal_topic(namespace), names.dead_letter_topic(namespace), names.stream_topic(namespace)):
        raise ApiError(422, ErrorCode.INVALID_INPUT, f"{name!r} is the engine's own topic, not a domain topic")


@router.post(
    "/events/{topic:path}",
    response_model=EventPublished,
    tags=["events"],
    summary="Publish an event on a domain topic (name, or name/KEY)",
    responses=errors.responses(400, 413, 422, 503),
)
async def publish_event(
    engine: EngineDep,
    topic: Annotated[str, Path(min_length=1, description="the topic, or topic/KEY", max_length=512)],
    body: EventRequest,
) -> EventPublished:
    client = engine.client
    _check_topic(topic, client.log.namespace)
    partition, offset = await client.publish_event(topic, body.value, key=body.key)
    name, _, topic_key = topic.partition("/")
    return EventPublished(topic=name, key=topic_key or body.key, partition=partition, offset=offset)


@router.get("/schedules", response_model=ScheduleList, tags=["schedules"], summary="Every cron schedule, by id")
async def list_schedules(engine: EngineDep) -> ScheduleList:
    return ScheduleList(schedules=await engine.client.list_schedules())


@router.get(
    "/schedules/{schedule_id:path}",
    response_model=Schedule,
    tags=["schedules"],
    summary="One cron schedule (<workflow>/<key>)",
    responses=errors.responses(404),
)
async def get_schedule(engine: EngineDep, schedule_id: Annotated[str, Path(min_length=1)]) -> Schedule:
    return await engine.client.get_schedule(schedule_id)


@router.get(
    "/queues",
    response_model=QueueList,
    tags=["queues"],
    summary="Each (queue, concurrency key) that has had a run: its limit, running and waiting runs",
)
async def list_queues(
    engine: EngineDep, queue: Annotated[str | None, Query(description="only this queue")] = None
) -> QueueList:
    return QueueList(queues=await engine.client.list_queues(queue))


@router.put(
    "/queues/{queue}/limit",
    response_model=QueueLimit,
    tags=["queues"],
    summary="Change a queue's concurrency limit, for every key, at once",
    responses=errors.responses(422),
)
async def set_queue_limit(
    engine: EngineDep,
    queue: Annotated[str, Path(min_length=1, max_length=MAX_ID_CHARS)],
    body: QueueLimitRequest,
) -> QueueLimit:
    await engine.client.set_queue_limit(queue, body.limit)
    return QueueLimit(queue=queue, limit=body.limit)
