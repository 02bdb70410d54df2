"""``POST /v1/webhooks/{source}/{name}``: a signed delivery in, onto its source's topic.

The signature is the auth: these paths bypass the bearer tokens. One delivery:

1. find the endpoint's secrets (none: 404 ``NOT_FOUND``, outcome ``unknown_endpoint``);
2. verify the signature on the raw body, then the timestamp and the body
   (``signatures.py``: 401 ``BAD_SIGNATURE``, 400 ``STALE_TIMESTAMP``, 400
   ``INVALID_INPUT``); a Slack ``url_verification`` is answered with its challenge here;
3. a delivery id taken lately answers 200 ``{"duplicate": true}`` and writes nothing;
4. write the raw body and the headers to ``<namespace>.webhooks.<source>``, keyed by the
   delivery id (``Client.publish_webhook``), then answer 200. The router starts the runs.

Every outcome is counted and logged with the endpoint and the delivery id; nothing but
an accepted delivery writes anything.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from fastapi import APIRouter, Request
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from connectors.http import errors
from connectors.http.deps import EngineDep
from connectors.http.errors import ApiError, ErrorCode

from .config import SOURCES, Endpoints
from .deliveries import DeliveryCounter, RecentDeliveries
from .signatures import Outcome, Rejected, claimed_delivery_id, verify

log = logging.getLogger(__name__)

_REFUSALS = {  # outcome -> (HTTP status, error code)
    Outcome.BAD_SIGNATURE: (401, ErrorCode.BAD_SIGNATURE),
    Outcome.STALE: (400, ErrorCode.STALE_TIMESTAMP),
    Outcome.BAD_BODY: (400, ErrorCode.INVALID_INPUT),
    Outcome.UNKNOWN_ENDPOINT: (404, ErrorCode.NOT_FOUND),
}


@dataclass
class Webhooks:
    """What the endpoint needs: the endpoints' secrets, the recent ids, the counter."""

    endpoints: Endpoints
    metrics: CollectorRegistry
    recent: RecentDeliveries = field(default_factory=RecentDeliveries)
    counter: DeliveryCounter = field(init=False)

    def __post_init__(self):
        self.counter = DeliveryCounter(self.metrics)


class WebhookAnswer(BaseModel):
    """A taken delivery (``duplicate``: taken before, written once), or Slack's challenge."""

    accepted: bool | None = None
    duplicate: bool | None = None
    delivery_id: str | None = None
    event: str | None = None
    challenge: str | None = None  # the answer to Slack's url_verification, alone


router = APIRouter(tags=["webhooks"])


@router.post(
    "/webhooks/{source}/{name}",
    summary="A signed webhook delivery (Stripe, GitHub, Slack, Standard Webhooks); no bearer token",
    response_model=WebhookAnswer,
    response_model_exclude_none=True,
    responses={
        status: {"model": errors.ErrorBody, "description": description}
        for status, description in {
            400: "STALE_TIMESTAMP: signed too long ago (over 300 s); INVALID_INPUT: not what the source sends",
            401: "BAD_SIGNATURE: a missing or wrong signature",
            404: "NOT_FOUND: no such endpoint, or one without a secret",
            413: "PAYLOAD_TOO_LARGE: the body is over the server's limit",
            503: "UNAVAILABLE: the log cannot be reached (the provider retries)",
        }.items()
    },
)
async def deliver(source: str, name: str, request: Request, engine: EngineDep) -> WebhookAnswer:
    hooks: Webhooks = request.app.state.webhooks
    body = await request.body()
    secrets = hooks.endpoints.get((source, name))  # 1.
    if not secrets:  # counted under "-": what anyone may post must not grow the labels
        unknown = Rejected(Outcome.UNKNOWN_ENDPOINT, f"no webhook endpoint {source}/{name} on this server")
        _refuse(hooks, (source if source in SOURCES else "-", "-"), source, name, None, unknown)
    headers = {k.lower(): v for k, v in request.headers.items()}
    try:  # 2.
        verified = verify(source, secrets, headers, body, time.time())
    except Rejected as exc:
        claimed = exc.delivery_id or claimed_delivery_id(source, headers, body)  # for the log line only
        _refuse(hooks, (source, name), source, name, claimed, exc)
    if verified.challenge is not None:
        log.info("webhook %s/%s: answered Slack's url_verification", source, name)
        return WebhookAnswer(challenge=verified.challenge)
    if not hooks.recent.claim(source, name, verified.delivery_id):  # 3.
        hooks.counter.count(source, name, Outcome.DUPLICATE)
        log.info("webhook %s/%s delivery %s: a duplicate, not written again", source, name, verified.delivery_id)
        return WebhookAnswer(accepted=True, duplicate=True, delivery_id=verified.delivery_id)
    try:  # 4.
        partition, offset = await engine.client.publish_webhook(
            source=source,
            name=name,
            delivery_id=verified.delivery_id,
            event=verified.event,
            headers=list(request.headers.items()),
            body=body,
        )
    except BaseException:
        hooks.recent.release(source, name, verified.delivery_id)
        raise
    hooks.counter.count(source, name, Outcome.ACCEPTED)
    log.info(
        "webhook %s/%s delivery %s (%s) written at partition %d offset %d",
        source, name, verified.delivery_id, verified.event, partition, offset,
    )  # fmt: skip
    return WebhookAnswer(accepted=True, duplicate=False, delivery_id=verified.delivery_id, event=verified.event)


def _refuse(hooks: Webhooks, labels: tuple[str, str], source: str, name: str, delivery_id: str | None, exc: Rejected):
    """Count (under ``labels``), log and answer a refused delivery (it writes nothing)."""
    hooks.counter.count(*labels, exc.outcome)
    log.warning("webhook %s/%s delivery %s refused (%s): %s", source, name, delivery_id or "-", exc.outcome, exc)
    status, code = _REFUSALS[exc.outcome]
    raise ApiError(status, code, f"webhook {exc.outcome.value}: {exc.message}")
