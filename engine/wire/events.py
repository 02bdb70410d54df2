"""Domain events: what is published on ordinary topics, and how an event reads.

A logical topic ``name`` is the Kafka topic ``name``; ``name/KEY`` is that topic with
record key ``KEY``, so one topic serves many orders.

Event values are JSON by default. With a schema, they are Avro in single-object
encoding (``framing.py``), the same framing as the journal's records. A reader knows
the schemas registered with ``register_event_schema`` (or ``event(topic, schema=...)``);
an Avro event with another fingerprint, or bytes that do not decode, is malformed.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

import orjson
from fastavro import parse_schema, schemaless_reader, schemaless_writer
from pydantic import BaseModel

from ..errors import LogloomError
from .framing import HEADER_LEN, fingerprint_hex, header_of, is_framed

_schemas: dict[bytes, dict] = {}  # single-object header -> parsed schema


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


def register_event_schema(schema: dict) -> bytes:
    """Make an Avro schema known for publishing and reading events; returns its header."""
    parsed = parse_schema(schema)
    header = header_of(parsed)
    _schemas[header] = parsed
    return header


def encode_event(data: Any, schema: dict | None = None) -> bytes:
    """JSON, or Avro single-object encoding when a schema is given."""
    if schema is None:
        try:
            return orjson.dumps(data)
        except TypeError as exc:
            raise LogloomError(f"event data is not JSON-serialisable: {exc}") from exc
    header = register_event_schema(schema)
    out = io.BytesIO()
    out.write(header)
    try:
        schemaless_writer(out, _schemas[header], data)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise LogloomError(f"event data does not fit the Avro schema {schema.get('name')}: {exc}") from exc
    return out.getvalue()


def decode_event(value: bytes) -> Any:
    """The data of an event, JSON or Avro; raises ``ValueError`` saying what is wrong."""
    if not is_framed(value):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"not JSON ({exc})") from exc
    schema = _schemas.get(value[:HEADER_LEN])
    if schema is None:
        raise ValueError(f"Avro record with an unknown schema fingerprint {fingerprint_hex(value)}")
    try:
        return schemaless_reader(io.BytesIO(value[HEADER_LEN:]), schema)
    except Exception as exc:  # fastavro raises several types on bad bytes
        raise ValueError(f"Avro record that does not match its schema ({exc})") from exc
