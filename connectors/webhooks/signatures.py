"""Each webhook source's signature, delivery id and event type, judged on the raw body.

``verify(source, secrets, headers, body, now_s)`` returns a ``Verified`` delivery or
raises ``Rejected`` with its outcome (``bad_signature``, ``stale``, ``bad_body``) and a
message that names what was wrong (never a secret). Any of ``secrets`` may verify: that
is how a key rotation works. The signature is judged before the timestamp (a forged old
request is a bad signature, a genuine old one is stale), except for Standard Webhooks,
whose package judges the timestamp first.

Per source: the signature; the delivery id; the event type.

- stripe: ``Stripe-Signature: t=..,v1=..`` (300 s); the body's ``id``; its ``type``.
- github: ``X-Hub-Signature-256: sha256=..`` (no timestamp); ``X-GitHub-Delivery``;
  ``X-GitHub-Event``.
- slack: ``X-Slack-Signature: v0=..`` with ``X-Slack-Request-Timestamp`` (300 s); the
  body's ``event_id``, else ``h-`` and a hash of the timestamp and body (slash commands,
  interactions); ``event.type``, else ``type`` (else a slash command's ``command``).
- standard: ``webhook-id``/``webhook-timestamp``/``webhook-signature``, verified by the
  ``standardwebhooks`` package (300 s); ``webhook-id``; the body's ``type``, if any.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import parse_qsl

import orjson

TOLERANCE_S = 300
_DELIVERY_ID = re.compile(r"^[\x21-\x7e]{1,200}$")  # printable ASCII, no spaces


class Outcome(StrEnum):
    """What became of a delivery: the ``outcome`` label of the deliveries counter."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    BAD_SIGNATURE = "bad_signature"
    STALE = "stale"
    UNKNOWN_ENDPOINT = "unknown_endpoint"
    BAD_BODY = "bad_body"


class Rejected(Exception):
    def __init__(self, outcome: Outcome, message: str, delivery_id: str | None = None):
        super().__init__(message)
        self.outcome = outcome
        self.message = message
        self.delivery_id = delivery_id


@dataclass(frozen=True)
class Verified:
    delivery_id: str
    event: str | None
    challenge: str | None = None  # Slack's url_verification: answer it, store nothing


def verify(source: str, secrets: list[str], headers: Mapping[str, str], body: bytes, now_s: float) -> Verified:
    """Judge one delivery to a ``source`` endpoint; ``headers`` with lowercased names."""
    return _SOURCES[source](secrets, headers, body, now_s)


def claimed_delivery_id(source: str, headers: Mapping[str, str], body: bytes) -> str | None:
    """The delivery id a refused request claims, unverified, for the log line; None if none."""
    claimed = {"github": headers.get("x-github-delivery"), "standard": headers.get("webhook-id")}.get(source)
    if claimed is None and source in ("stripe", "slack"):
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        claimed = doc.get("id" if source == "stripe" else "event_id") if isinstance(doc, dict) else None
    return repr(claimed[:200]) if isinstance(claimed, str) else None


def _hmac_hex(secret: str, message: bytes) -> str:
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _any_matches(expected: list[str], given: list[str]) -> bool:
    return any(hmac.compare_digest(e, g) for e in expected for g in given)


def _check_time(timestamp: int, now_s: float, header: str) -> None:
    if abs(now_s - timestamp) > TOLERANCE_S:
        raise Rejected(
            Outcome.STALE, f"{header} {timestamp} is {int(now_s - timestamp)} s from now, over {TOLERANCE_S} s"
        )


def _json_object(body: bytes, source: str) -> dict:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise Rejected(Outcome.BAD_BODY, f"a {source} delivery's body is JSON, this is not") from None
    if not isinstance(doc, dict):
        raise Rejected(Outcome.BAD_BODY, f"a {source} delivery's body is a JSON object, got {type(doc).__name__}")
    return doc


def _delivery_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _DELIVERY_ID.match(value):
        raise Rejected(Outcome.BAD_BODY, f"{where}: no delivery id (1-200 printable characters), got {value!r}")
    return value


def _stripe(secrets: list[str], headers: Mapping[str, str], body: bytes, now_s: float) -> Verified:
    header = headers.get("stripe-signature")
    if not header:
        raise Rejected(Outcome.BAD_SIGNATURE, "no Stripe-Signature header")
    pairs = [item.strip().partition("=") for item in header.split(",")]
    stamps = [v for k, _, v in pairs if k == "t"]
    given = [v for k, _, v in pairs if k == "v1"]
    if len(stamps) != 1 or not stamps[0].isdigit() or not given:
        raise Rejected(Outcome.BAD_SIGNATURE, "Stripe-Signature is not t=<timestamp>,v1=<signature>")
    timestamp = int(stamps[0])
    if not _any_matches([_hmac_hex(s, f"{timestamp}.".encode() + body) for s in secrets], given):
        raise Rejected(Outcome.BAD_SIGNATURE, "no v1 signature in Stripe-Signature matches the body")
    _check_time(timestamp, now_s, "Stripe-Signature's t")
    doc = _json_object(body, "stripe")
    event = doc.get("type")
    if not isinstance(event, str):
        raise Rejected(Outcome.BAD_BODY, "a Stripe event has a string 'type'")
    return Verified(_delivery_id(doc.get("id"), "the Stripe event's 'id'"), event)


def _github(secrets: list[str], headers: Mapping[str, str], body: bytes, now_s: float) -> Verified:
    header = headers.get("x-hub-signature-256", "")
    if not header.startswith("sha256="):
        raise Rejected(Outcome.BAD_SIGNATURE, "no X-Hub-Signature-256: sha256=<signature> header")
    if not _any_matches([_hmac_hex(s, body) for s in secrets], [header.removeprefix("sha256=")]):
        raise Rejected(Outcome.BAD_SIGNATURE, "X-Hub-Signature-256 does not match the body")
    delivery_id = _delivery_id(headers.get("x-github-delivery"), "X-GitHub-Delivery")
    event = headers.get("x-github-event")
    if not event:
        raise Rejected(Outcome.BAD_BODY, "no X-GitHub-Event header", delivery_id)
    return Verified(delivery_id, event)


def _slack(secrets: list[str], headers: Mapping[str, str], body: bytes, now_s: float) -> Verified:
    header = headers.get("x-slack-signature", "")
    stamp = headers.get("x-slack-request-timestamp", "")
    if not header.startswith("v0=") or not stamp.isdigit():
        raise Rejected(Outcome.BAD_SIGNATURE, "no X-Slack-Signature: v0=<signature> and X-Slack-Request-Timestamp")
    if not _any_matches([_hmac_hex(s, f"v0:{stamp}:".encode() + body) for s in secrets], [header[3:]]):
        raise Rejected(Outcome.BAD_SIGNATURE, "X-Slack-Signature does not match the timestamp and body")
    _check_time(int(stamp), now_s, "X-Slack-Request-Timestamp")
    if headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        doc = _slack_form(body)
    else:
        doc = _json_object(body, "slack")
    if doc.get("type") == "url_verification":
        challenge = doc.get("challenge")
        if not isinstance(challenge, str):
            raise Rejected(Outcome.BAD_BODY, "a Slack url_verification without a 'challenge'")
        return Verified("url_verification", "url_verification", challenge)
    inner = doc.get("event")
    event = inner.get("type") if isinstance(inner, dict) else doc.get("type") or doc.get("command")
    delivery_id = doc.get("event_id")
    if delivery_id is None:  # slash commands and interactions: no id of their own
        delivery_id = "h-" + hashlib.sha256(stamp.encode() + b"." + body).hexdigest()[:32]
    return Verified(_delivery_id(delivery_id, "the Slack body's 'event_id'"), event if isinstance(event, str) else None)


def _slack_form(body: bytes) -> dict:
    """A form body (slash commands; interactions carry a JSON ``payload`` field)."""
    try:
        fields = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise Rejected(Outcome.BAD_BODY, "a Slack form body that is not UTF-8") from None
    if "payload" in fields:
        try:
            payload = orjson.loads(fields["payload"])
        except orjson.JSONDecodeError:
            raise Rejected(Outcome.BAD_BODY, "a Slack interaction whose 'payload' is not JSON") from None
        return {"type": payload.get("type")} if isinstance(payload, dict) else {}
    return fields


def _standard(secrets: list[str], headers: Mapping[str, str], body: bytes, now_s: float) -> Verified:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError

    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Rejected(Outcome.BAD_BODY, "a Standard Webhooks body is UTF-8 text") from None
    failure = "no webhook-signature matches"
    for secret in secrets:
        try:
            Webhook(secret).verify(text, dict(headers), json_parse=False)
        except WebhookVerificationError as exc:
            reason = str(exc)
            if "timestamp too" in reason:  # the package judges the time first, alike for every secret
                raise Rejected(Outcome.STALE, f"webhook-timestamp: {reason.lower()} (over {TOLERANCE_S} s)") from None
            failure = "missing webhook-id, webhook-timestamp or webhook-signature" if "Missing" in reason else reason
            continue
        except (ValueError, TypeError):  # a malformed webhook-signature (no "v1,")
            failure = "webhook-signature is not 'v1,<base64>' pairs"
            continue
        delivery_id = _delivery_id(headers.get("webhook-id"), "webhook-id")
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            doc = None
        event = doc.get("type") if isinstance(doc, dict) else None
        return Verified(delivery_id, event if isinstance(event, str) else None)
    raise Rejected(Outcome.BAD_SIGNATURE, failure[:1].lower() + failure[1:])


_SOURCES = {"stripe": _stripe, "github": _github, "slack": _slack, "standard": _standard}
