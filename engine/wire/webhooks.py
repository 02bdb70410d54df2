"""Webhook deliveries: how a verified delivery is kept on its topic, and how a workflow reads it.

The HTTP connector verifies a delivery's signature, then writes it to
``names.webhook_topic(namespace, source)``, keyed by its delivery id, as one JSON
document (the *envelope*)::

    {"format": "logloom.webhook/1", "source": "stripe", "name": "stripe",
     "delivery_id": "evt_1", "event": "payment_intent.succeeded", "received_at_ms": 1764240000000,
     "headers": [["stripe-signature", "t=...,v1=..."], ...], "body": "{\\"id\\": \\"evt_1\\", ...}"}

``body`` is the request body exactly as received, as text when it is UTF-8 (a JSON
string round-trips byte for byte), else ``body_base64``. ``headers`` are the request's
headers in arrival order, names lowercased, without ``authorization`` and ``cookie``:
with the body they let anyone check the signature again or replay the delivery.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson
from pydantic import BaseModel

from ..clock import to_datetime

FORMAT = "logloom.webhook/1"
DROPPED_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})


class WebhookDelivery(BaseModel):
    """What a webhook-triggered workflow receives when its parameter is annotated
    ``WebhookDelivery``: a verified delivery, as received."""

    source: str  # stripe, github, slack or standard
    name: str  # the endpoint's name: POST /v1/webhooks/{source}/{name}
    delivery_id: str
    event: str | None = None  # the provider's event type, e.g. payment_intent.succeeded
    headers: dict[str, str]  # lowercased names; repeated headers joined with ", "
    body: Any = None  # the body parsed: JSON, or a form's fields; None if neither
    raw: str  # the body as text (bytes that are not UTF-8 replaced; the topic has them exact)
    received_at: datetime


def encode_envelope(
    *,
    source: str,
    name: str,
    delivery_id: str,
    event: str | None,
    headers: list[tuple[str, str]],
    body: bytes,
    received_at_ms: int,
) -> bytes:
    """The envelope of a verified delivery (see the module's docstring)."""
    doc: dict[str, Any] = {
        "format": FORMAT,
        "source": source,
        "name": name,
        "delivery_id": delivery_id,
        "event": event,
        "received_at_ms": received_at_ms,
        "headers": [[k.lower(), v] for k, v in headers if k.lower() not in DROPPED_HEADERS],
    }
    try:
        doc["body"] = body.decode("utf-8")
    except UnicodeDecodeError:
        doc["body_base64"] = base64.b64encode(body).decode()
    return orjson.dumps(doc)


def decode_envelope(value: bytes) -> dict:
    """An envelope as a dict, its ``body`` as the bytes received; raises ``ValueError``."""
    try:
        doc = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"not a webhook envelope (format {FORMAT!r})")
    missing = [f for f in ("source", "name", "delivery_id", "headers", "received_at_ms") if f not in doc]
    if missing:
        raise ValueError(f"webhook envelope without {missing}")
    if "body" in doc:
        doc["body"] = doc["body"].encode("utf-8")
    elif "body_base64" in doc:
        doc["body"] = base64.b64decode(doc.pop("body_base64"))
    else:
        raise ValueError("webhook envelope without a body")
    return doc


def parse_body(body: bytes, content_type: str | None) -> Any:
    """A body's content: JSON, a form's fields (``application/x-www-form-urlencoded``), else None."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return None
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None


def joined_headers(headers: list) -> dict[str, str]:
    """Header pairs as a dict: names lowercased, repeated ones joined with ", "."""
    out: dict[str, str] = {}
    for k, v in headers:
        k = k.lower()
        out[k] = f"{out[k]}, {v}" if k in out else v
    return out


def delivery_of(envelope: dict) -> WebhookDelivery:
    """The ``WebhookDelivery`` of a decoded envelope."""
    headers = joined_headers(envelope["headers"])
    body: bytes = envelope["body"]
    return WebhookDelivery(
        source=envelope["source"],
        name=envelope["name"],
        delivery_id=envelope["delivery_id"],
        event=envelope.get("event"),
        headers=headers,
        body=parse_body(body, headers.get("content-type")),
        raw=body.decode("utf-8", errors="replace"),
        received_at=to_datetime(envelope["received_at_ms"]),
    )
