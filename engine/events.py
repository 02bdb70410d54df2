"""Domain events: what is published on ordinary topics, and how an event reads.

A logical topic ``name`` is the Kafka topic ``name``; ``name/KEY`` is that topic with
record key ``KEY``, so one topic serves many orders. Event values are JSON by default.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel

from .errors import LogloomError


class EventPayload(BaseModel):
    """What a triggered workflow receives when its parameter is annotated ``EventPayload``."""

    data: Any
    key: str | None = None
    topic: str
    partition: int
    offset: int
    timestamp: datetime


def split_topic(logical: str) -> tuple[str, str | None]:
    """``"warehouse.pickup/o-17"`` -> (``"warehouse.pickup"``, ``"o-17"``)."""
    topic, sep, key = logical.partition("/")
    if not topic:
        raise LogloomError(f"no topic name in {logical!r}")
    return topic, (key if sep else None)


def encode_event(data: Any) -> bytes:
    try:
        return orjson.dumps(data)
    except TypeError as exc:
        raise LogloomError(f"event data is not JSON-serialisable: {exc}") from exc


def decode_event(value: bytes) -> Any:
    """The JSON value of an event; raises ``ValueError`` on malformed input."""
    return orjson.loads(value)
