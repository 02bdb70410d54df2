"""Webhook triggers: ``triggers=[webhook("stripe", event="payment_intent.succeeded")]``.

A trigger names an endpoint, ``POST /v1/webhooks/{source}/{name}`` of the HTTP
connector (``docs/webhooks.md``), and optionally the event types it starts runs for.
The connector verifies each delivery and writes it to the source's topic; the router
starts one run per (workflow, endpoint, delivery id) whose trigger matches.

Secrets never appear in a trigger's repr or label. A secret given as ``"env:NAME"`` is
read from the environment variable ``NAME`` by the server when it starts.
"""

from __future__ import annotations

import fnmatch
import os
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import LogloomError
from ..wire.webhooks import WebhookDelivery

SOURCES = ("stripe", "github", "slack", "standard")
ENV_PREFIX = "env:"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class WebhookTrigger:
    """A webhook endpoint ``(source, name)`` whose deliveries of type ``event`` (a glob such
    as ``"payment_intent.*"``; None: every type) start one run each."""

    source: str
    name: str
    event: str | None = None
    secrets: tuple[str, ...] = field(default=(), repr=False)  # literals or "env:NAME"

    @property
    def label(self) -> str:
        """How listings show it: ``webhook:stripe/payments[payment_intent.succeeded]``."""
        return f"webhook:{self.source}/{self.name}" + (f"[{self.event}]" if self.event else "")

    @property
    def endpoint(self) -> tuple[str, str]:
        return self.source, self.name

    def matches(self, source: str, name: str, event: str | None) -> bool:
        """Whether a delivery to endpoint (``source``, ``name``) of type ``event`` starts a run."""
        if (source, name) != self.endpoint:
            return False
        return self.event is None or (event is not None and fnmatch.fnmatchcase(event, self.event))

    def resolved_secrets(self, environ: dict[str, str] | None = None) -> list[str]:
        """The secrets, ``env:NAME`` ones read from the environment (unset ones left out)."""
        env = os.environ if environ is None else environ
        out = []
        for secret in self.secrets:
            if secret.startswith(ENV_PREFIX):
                out.extend(env.get(secret[len(ENV_PREFIX) :], "").split())
            else:
                out.append(secret)
        return out


def check_endpoint(source: str, name: str) -> None:
    """Raise ``LogloomError`` unless (``source``, ``name``) can be an endpoint."""
    if source not in SOURCES:
        raise LogloomError(f"unknown webhook source {source!r}; the sources are {list(SOURCES)}")
    if not _NAME.match(name):
        raise LogloomError(f"webhook endpoint name {name!r}: letters, digits, '_', '.', '-', at most 100")


def secrets_of(secret: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """One secret or several (key rotation: each verifies), as a tuple."""
    if secret is None:
        return ()
    items = [secret] if isinstance(secret, str) else list(secret)
    if not all(isinstance(s, str) and s.strip() for s in items):
        raise LogloomError("a webhook secret is a non-empty string (or a list of them, or 'env:NAME')")
    return tuple(s.strip() for s in items)


def webhook(
    source: str,
    *,
    name: str | None = None,
    event: str | None = None,
    secret: str | list[str] | None = None,
) -> WebhookTrigger:
    """A trigger on the webhook endpoint ``POST /v1/webhooks/{source}/{name}`` (AGNT5 style).

    ``name`` defaults to the source; ``event`` picks the event types (a glob; None: all);
    ``secret`` (or several, during a key rotation; ``"env:NAME"`` reads the variable
    ``NAME``) verifies the deliveries, unless the server's secrets file gives them."""
    endpoint = name or source
    check_endpoint(source, endpoint)
    return WebhookTrigger(source, endpoint, event, secrets_of(secret))


def webhook_payload(binder: Any, delivery: WebhookDelivery) -> Any:
    """A triggered run's input, for a workflow's ``binder``:

    * a ``WebhookDelivery`` parameter gets the whole delivery;
    * another pydantic model parameter gets the parsed body;
    * a single other parameter gets the body, unless the body is an object with a key
      of that parameter's name;
    * otherwise the body's keys bind the parameters of their names (other keys are left
      out: providers add fields).
    """
    model = binder.model
    if model is not None and issubclass(model, WebhookDelivery):
        return delivery.model_dump(mode="json")
    body = delivery.body
    if model is not None or binder.payload_model is None:
        return body if model is not None else None
    params = binder.param_names
    if len(params) == 1 and not (isinstance(body, dict) and params[0] in body):
        return {params[0]: body}
    if not isinstance(body, dict):
        return body  # binding it fails with a clear error: it goes to the dead-letter topic
    return {k: v for k, v in body.items() if k in params}
